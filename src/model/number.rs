//! How numbers are written for people to read. Every count a page shows goes through here, so
//! this is the one place a locale would plug in (today: English, `1,234,567`).

/// A whole number with thousands separators: `1234567` → `"1,234,567"`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A count followed by a noun in the right number: `count_of(1, "member", "members")` →
/// `"1 member"`, `count_of(20000, ...)` → `"20,000 members"`.
pub fn count_of(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", count(n), if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separates_thousands() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(20000), "20,000");
        assert_eq!(count(200000), "200,000");
        assert_eq!(count(1234567), "1,234,567");
        assert_eq!(count(u64::MAX), "18,446,744,073,709,551,615");
    }

    #[test]
    fn nouns_agree_with_counts() {
        assert_eq!(count_of(0, "member", "members"), "0 members");
        assert_eq!(count_of(1, "member", "members"), "1 member");
        assert_eq!(count_of(2500, "row", "rows"), "2,500 rows");
    }
}
