//! A report's chart: completion per course as bars and the status of all enrolments as one
//! stacked bar, drawn as SVG on the server, with a data table as its text alternative.
//!
//! The SVG is one string (`inner_html`): the same markup on the server and in the browser,
//! no script, no inline style (the Content-Security-Policy allows neither). It is drawn twice,
//! wide and narrow ([`Layout`]), and the stylesheet shows the one that fits the screen: a single
//! drawing scaled from a desktop's width down to a phone's shrank its labels to 6 px. Its parts
//! carry classes the stylesheet paints with the theme's colours.

use crate::model::number::count;
use crate::model::report::{percents, ReportCourse, StatusCounts};
use leptos::prelude::*;

/// Which drawing: the wide one for desktops and tablets, or the narrow one for phones, where
/// the wide one scaled down to a phone's width would shrink its labels to about 6 px. Both are
/// in the page; the stylesheet shows one (`.chart-wide` / `.chart-narrow`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Layout {
    /// Label, bar and rate side by side on one line per course, 480 units wide.
    Wide,
    /// Label and rate on one line, the bar under them across the whole width, 300 units wide:
    /// at a phone's width (about 310 px for the chart) one unit is about one pixel, so the
    /// 13-unit labels stay readable.
    Narrow,
}

impl Layout {
    fn width(self) -> u32 {
        match self {
            Layout::Wide => 480,
            Layout::Narrow => 300,
        }
    }
}

/// Wide layout: the course label's column, the bar's start and length, one course a row.
const LABEL_W: u32 = 92;
const BAR_X: u32 = LABEL_W + 6;
const BAR_W: u32 = 230;
const ROW_H: u32 = 26;
/// Narrow layout: a course takes two lines (label and rate, then the bar).
const NARROW_ROW_H: u32 = 40;
/// Fallback colours, for the SVG on its own; on the page the stylesheet paints each part
/// (by its class) with the theme's colour variables, light or dark.
const COMPLETED: &str = "#1d6b35";
const IN_PROGRESS: &str = "#9a5200";
const NOT_STARTED: &str = "#5c6675";
const BAR: &str = "#1f5fbf";
const TRACK: &str = "#e6e9ee";
const TEXT: &str = "#1c2430";
const MUTED: &str = "#55606e";

/// Text for SVG markup: `&`, `<`, `>` and quotes escaped.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A label cut to `max` characters (the full text is in the data table).
fn short(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

/// The chart's SVG markup in the given layout. `id` prefixes the ids of its title and
/// description.
pub fn report_svg(
    id: &str,
    group: &str,
    courses: &[ReportCourse],
    overall: &StatusCounts,
    layout: Layout,
) -> String {
    use std::fmt::Write;
    let width = layout.width();
    let narrow = layout == Layout::Narrow;
    let title = format!("Completion in {group}");
    let rates: Vec<String> = courses
        .iter()
        .map(|c| format!("{} {} %", c.code, c.counts.rate()))
        .collect();
    let desc = format!(
        "Completion per course: {}. All enrolments: {} completed, {} in progress, {} not started; overall completion {} %.",
        if rates.is_empty() { "no courses".to_string() } else { rates.join(", ") },
        overall.completed,
        overall.in_progress,
        overall.not_started,
        overall.rate()
    );
    let row_h = if narrow { NARROW_ROW_H } else { ROW_H };
    let bars_h = row_h * courses.len().max(1) as u32;
    let stack_y = 30 + bars_h + 34;
    // The stacked bar, then the legend one entry a line (long numbers fit at any width).
    let height = stack_y + 24 + 18 * 4 + 8;
    let font = if narrow { 13 } else { 12 };
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="{id}-title" aria-describedby="{id}-desc" viewBox="0 0 {width} {height}" width="100%" class="chart-svg" font-family="system-ui, sans-serif" font-size="{font}"><title id="{id}-title">{}</title><desc id="{id}-desc">{}</desc>"#,
        esc(&title),
        esc(&desc)
    );
    let _ = write!(
        s,
        r#"<text x="0" y="16" font-weight="600" font-size="{}" class="c-text" fill="{TEXT}">Completion per course</text>"#,
        font + 1
    );
    if courses.is_empty() {
        let _ = write!(
            s,
            r#"<text x="0" y="46" class="c-muted" fill="{MUTED}">This group gives no courses.</text>"#
        );
    }
    for (i, c) in courses.iter().enumerate() {
        let y = 30 + row_h * i as u32;
        let rate = c.counts.rate();
        let value = format!("{rate} % ({}/{})", c.counts.completed, c.counts.enrolled());
        if narrow {
            // Label left and rate right on the first line, the bar across the width under them.
            let w = (width - 2) * rate / 100;
            let _ = write!(
                s,
                r#"<text x="0" y="{}" class="c-text" fill="{TEXT}">{}</text><text x="{width}" y="{}" text-anchor="end" class="c-text" fill="{TEXT}">{}</text><rect x="0" y="{}" width="{}" height="12" rx="3" class="c-track" fill="{TRACK}"/><rect x="0" y="{}" width="{w}" height="12" rx="3" class="c-bar" fill="{BAR}"/>"#,
                y + 12,
                esc(&short(&c.code, 18)),
                y + 12,
                esc(&value),
                y + 18,
                width - 2,
                y + 18,
            );
        } else {
            let w = BAR_W * rate / 100;
            let _ = write!(
                s,
                r#"<text x="{LABEL_W}" y="{}" text-anchor="end" class="c-text" fill="{TEXT}">{}</text><rect x="{BAR_X}" y="{}" width="{BAR_W}" height="14" rx="3" class="c-track" fill="{TRACK}"/><rect x="{BAR_X}" y="{}" width="{w}" height="14" rx="3" class="c-bar" fill="{BAR}"/><text x="{}" y="{}" class="c-text" fill="{TEXT}">{}</text>"#,
                y + 12,
                esc(&short(&c.code, 11)),
                y + 1,
                y + 1,
                BAR_X + BAR_W + 6,
                y + 12,
                esc(&value)
            );
        }
    }
    let _ = write!(
        s,
        r#"<text x="0" y="{}" font-weight="600" font-size="{}" class="c-text" fill="{TEXT}">Status of all enrolments</text>"#,
        stack_y - 10,
        font + 1
    );
    let enrolled = overall.enrolled();
    let parts = [
        ("Completed", overall.completed, COMPLETED, "c-completed"),
        (
            "In progress",
            overall.in_progress,
            IN_PROGRESS,
            "c-in-progress",
        ),
        (
            "Not started",
            overall.not_started,
            NOT_STARTED,
            "c-not-started",
        ),
    ];
    let full = width - 2;
    let _ = write!(
        s,
        r#"<rect x="0" y="{stack_y}" width="{full}" height="20" rx="3" class="c-track" fill="{TRACK}"/>"#
    );
    let mut x = 0u64;
    for (_, n, colour, class) in parts {
        if enrolled == 0 || n == 0 {
            continue;
        }
        let w = u64::from(full) * n / enrolled;
        let _ = write!(
            s,
            r#"<rect x="{x}" y="{stack_y}" width="{w}" height="20" class="{class}" fill="{colour}"/>"#
        );
        x += w;
    }
    let mut legend_y = stack_y + 40;
    // The three shares of one whole: they add up to 100 %.
    let shares = percents(&parts.map(|(_, n, _, _)| n));
    for ((label, n, colour, class), share) in parts.into_iter().zip(shares) {
        let text = format!("{label}: {} ({share} %)", count(n));
        let _ = write!(
            s,
            r#"<rect x="0" y="{}" width="12" height="12" class="{class}" fill="{colour}"/><text x="18" y="{legend_y}" class="c-text" fill="{TEXT}">{}</text>"#,
            legend_y - 10,
            esc(&text)
        );
        legend_y += 18;
    }
    let _ = write!(
        s,
        r#"<text x="0" y="{legend_y}" class="c-muted" fill="{MUTED}">Not enrolled (not counted): {}</text></svg>"#,
        count(overall.not_enrolled)
    );
    s
}

/// The chart and, as its text alternative, the same numbers as a table.
#[component]
pub fn ReportChart(
    /// Unique on the page: prefixes the chart's ids.
    id: &'static str,
    #[prop(into)] group: String,
    courses: Vec<ReportCourse>,
    overall: StatusCounts,
) -> impl IntoView {
    let wide = report_svg(id, &group, &courses, &overall, Layout::Wide);
    let narrow = report_svg(
        &format!("{id}-narrow"),
        &group,
        &courses,
        &overall,
        Layout::Narrow,
    );
    view! {
        <figure class="chart">
            <div class="chart-box chart-wide" inner_html=wide></div>
            <div class="chart-box chart-narrow" inner_html=narrow></div>
            <figcaption class="hint">"The numbers of the chart are in the table below."</figcaption>
        </figure>
        <div class="table-wrap" role="region" aria-label="Table of completion per course" tabindex="0">
            <table class="data stack stack-grid" role="table">
                <caption>"Completion per course"</caption>
                <thead role="rowgroup">
                    <tr role="row">
                        <th scope="col" role="columnheader">"Course"</th>
                        <th scope="col" role="columnheader">"Enrolled"</th>
                        <th scope="col" role="columnheader">"Completed"</th>
                        <th scope="col" role="columnheader">"In progress"</th>
                        <th scope="col" role="columnheader">"Not started"</th>
                        <th scope="col" role="columnheader">"Not enrolled"</th>
                        <th scope="col" role="columnheader">"Completion rate"</th>
                    </tr>
                </thead>
                <tbody role="rowgroup">
                    {courses
                        .into_iter()
                        .map(|c| {
                            view! {
                                <tr role="row">
                                    <th scope="row" role="rowheader">{c.code} " " <span class="muted">{c.title}</span></th>
                                    <td role="cell" class="num" data-label="Enrolled">{count(c.counts.enrolled())}</td>
                                    <td role="cell" class="num" data-label="Completed">{count(c.counts.completed)}</td>
                                    <td role="cell" class="num" data-label="In progress">{count(c.counts.in_progress)}</td>
                                    <td role="cell" class="num" data-label="Not started">{count(c.counts.not_started)}</td>
                                    <td role="cell" class="num" data-label="Not enrolled">{count(c.counts.not_enrolled)}</td>
                                    <td role="cell" class="num" data-label="Completion rate">{format!("{} %", c.counts.rate())}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
                <tfoot role="rowgroup">
                    <tr role="row">
                        <th scope="row" role="rowheader">"All courses"</th>
                        <td role="cell" class="num" data-label="Enrolled">{count(overall.enrolled())}</td>
                        <td role="cell" class="num" data-label="Completed">{count(overall.completed)}</td>
                        <td role="cell" class="num" data-label="In progress">{count(overall.in_progress)}</td>
                        <td role="cell" class="num" data-label="Not started">{count(overall.not_started)}</td>
                        <td role="cell" class="num" data-label="Not enrolled">{count(overall.not_enrolled)}</td>
                        <td role="cell" class="num" data-label="Completion rate">{format!("{} %", overall.rate())}</td>
                    </tr>
                </tfoot>
            </table>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chart_is_labelled_and_escapes_names() {
        let c = ReportCourse {
            id: 1,
            code: "A<&>".into(),
            title: "t".into(),
            counts: StatusCounts {
                not_started: 1,
                in_progress: 1,
                completed: 2,
                not_enrolled: 3,
            },
        };
        let svg = report_svg(
            "rc",
            "Physics \"1\"",
            &[c],
            &StatusCounts::default(),
            Layout::Wide,
        );
        assert!(svg.starts_with("<svg "));
        assert!(svg.contains(r#"role="img" aria-labelledby="rc-title" aria-describedby="rc-desc""#));
        assert!(svg.contains(r#"<title id="rc-title">Completion in Physics &quot;1&quot;</title>"#));
        assert!(svg.contains("A&lt;&amp;&gt; 50 %"), "{svg}");
        assert!(svg.contains(r#"width="115""#), "half of the bar: {svg}");
        assert!(!svg.contains("<A"));
        assert!(svg.ends_with("</svg>"));
    }

    /// On a phone the narrow drawing is used: 300 units wide (about one unit a pixel there),
    /// 13-unit labels, the bar across the whole width under its label.
    #[test]
    fn the_narrow_chart_keeps_labels_large() {
        let c = ReportCourse {
            id: 1,
            code: "CHEM-220".into(),
            title: "t".into(),
            counts: StatusCounts {
                not_started: 1,
                in_progress: 1,
                completed: 2,
                not_enrolled: 0,
            },
        };
        let svg = report_svg("rc", "G", &[c], &StatusCounts::default(), Layout::Narrow);
        assert!(svg.contains(r#"viewBox="0 0 300 "#), "{svg}");
        assert!(svg.contains(r#"font-size="13""#), "{svg}");
        assert!(
            svg.contains(">CHEM-220</text>"),
            "the code is not cut: {svg}"
        );
        assert!(
            svg.contains(r##"text-anchor="end" class="c-text" fill="#1c2430">50 % (2/4)</text>"##),
            "{svg}"
        );
        assert!(
            svg.contains(r#"width="149" height="12""#),
            "half of the full-width bar: {svg}"
        );
    }

    /// The legend's shares of one whole add up to 100 %: 1, 1 and 1 of 3 are 34, 33 and 33,
    /// not 33 three times.
    #[test]
    fn the_legend_adds_up_to_a_hundred() {
        let overall = StatusCounts {
            not_started: 1,
            in_progress: 1,
            completed: 1,
            not_enrolled: 1200,
        };
        let svg = report_svg("rc", "G", &[], &overall, Layout::Wide);
        assert!(svg.contains("Completed: 1 (34 %)"), "{svg}");
        assert!(svg.contains("In progress: 1 (33 %)"), "{svg}");
        assert!(svg.contains("Not started: 1 (33 %)"), "{svg}");
        assert!(svg.contains("Not enrolled (not counted): 1,200"), "{svg}");
    }
}
