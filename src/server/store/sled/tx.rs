//! Named transactions: the trees one sled transaction uses, declared by name.
//!
//! sled runs a transaction over a list of trees and hands the closure the same list back, so a
//! transaction over many trees used to be an array given by position and unpacked by position,
//! where a tree added in the wrong place compiled and read the wrong data. Here a transaction's
//! trees are a struct declared with [`tree_set!`]: its fields are named after the store's
//! trees, the list given to sled and the unpacking are generated from the same field list, and
//! a set can hold smaller sets (the trees a new user's creation writes hold the trees joining
//! the default group writes), so operations that compose share their declarations.
//!
//! A tree must not appear twice in one transaction (sled would give two views of it, and a
//! write through one would not be seen through the other); [`distinct`] checks each set once,
//! the first time it runs.

#[allow(unused_imports)]
use crate::server::store::prelude::*;

use super::{SledStore, StoreError};
use sled::transaction::{ConflictableTransactionError, TransactionalTree};

/// What a transaction closure returns.
pub(crate) type Tx<T> = Result<T, ConflictableTransactionError<StoreError>>;

/// A set of trees one transaction uses (see the module text); implemented by [`tree_set!`].
pub(crate) trait TreeSet<'a>: Sized {
    /// Appends this set's trees to `into`, nested sets in place, in declaration order.
    fn trees<'s>(store: &'s SledStore, into: &mut Vec<&'s sled::Tree>);

    /// Takes this set's views from a transaction's trees, in the order [`TreeSet::trees`] gave
    /// them. `None` when there are too few (the set and its list disagree: a bug).
    fn take(views: &mut std::slice::Iter<'a, TransactionalTree>) -> Option<Self>;
}

/// Whether the trees of a set are all different, checked once per set (a set is the same
/// every time it runs). A set naming a tree twice is a bug; it fails its transactions.
pub(crate) fn distinct(checked: &std::sync::OnceLock<bool>, trees: &[&sled::Tree]) -> bool {
    *checked.get_or_init(|| {
        let mut names: Vec<sled::IVec> = trees.iter().map(|t| t.name()).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        before == names.len()
    })
}

/// The error a transaction gives when its set is built wrong (never in a released build: the
/// tests run every set).
pub(crate) fn misdeclared(set: &'static str) -> ConflictableTransactionError<StoreError> {
    ConflictableTransactionError::Abort(StoreError::Backend(super::BackendError::Other(format!(
        "the tree set {set} names a tree twice or lost one"
    ))))
}

/// Declares a named set of trees and its `run`:
///
/// ```ignore
/// tree_set! {
///     /// The trees removing a member writes.
///     pub(crate) struct RemoveMemberTx { groups, group_members; join: DefaultJoinTx }
/// }
/// RemoveMemberTx::run(store, |t| { t.groups.get(..)?; tx_join(&t.join, ..) })
/// ```
///
/// Tree fields are named after the store's fields; nested sets follow a `;`.
macro_rules! tree_set {
    (
        $(#[$m:meta])*
        $vis:vis struct $name:ident {
            $($tree:ident),* $(,)?
            $(; $($set:ident : $set_ty:ident),+ $(,)?)?
        }
    ) => {
        $(#[$m])*
        $vis struct $name<'a> {
            $(pub $tree: <$crate::server::store::sled::tables::of::$tree as $crate::server::store::sled::tables::InTx<'a>>::View,)*
            $($(pub $set: $set_ty<'a>,)+)?
        }

        impl<'a> $crate::server::store::sled::tx::TreeSet<'a> for $name<'a> {
            fn trees<'s>(store: &'s $crate::server::store::sled::SledStore, into: &mut Vec<&'s sled::Tree>) {
                $(into.push(&store.$tree);)*
                $($(<$set_ty<'_> as $crate::server::store::sled::tx::TreeSet<'_>>::trees(store, into);)+)?
            }

            fn take(
                views: &mut std::slice::Iter<'a, sled::transaction::TransactionalTree>,
            ) -> Option<Self> {
                Some($name {
                    $($tree: From::from(views.next()?),)*
                    $($($set: <$set_ty<'a> as $crate::server::store::sled::tx::TreeSet<'a>>::take(views)?,)+)?
                })
            }
        }

        impl $name<'_> {
            /// Runs `f` as one transaction over this set's trees. sled may run `f` again on a
            /// conflict, so it has no side effects.
            #[allow(dead_code)]
            $vis fn run<A>(
                store: &$crate::server::store::sled::SledStore,
                f: impl Fn(&$name<'_>) -> $crate::server::store::sled::tx::Tx<A>,
            ) -> Result<A, $crate::server::store::StoreError> {
                use sled::Transactional;
                static DISTINCT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
                let mut trees = Vec::new();
                <$name<'_> as $crate::server::store::sled::tx::TreeSet<'_>>::trees(store, &mut trees);
                let distinct = $crate::server::store::sled::tx::distinct(&DISTINCT, &trees);
                let out = trees.as_slice().transaction(|views| {
                    let mut it = views.iter();
                    let set = match (distinct, <$name<'_> as $crate::server::store::sled::tx::TreeSet<'_>>::take(&mut it)) {
                        (true, Some(set)) if it.next().is_none() => set,
                        _ => return Err($crate::server::store::sled::tx::misdeclared(stringify!($name))),
                    };
                    f(&set)
                })?;
                Ok(out)
            }
        }
    };
}

pub(crate) use tree_set;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::store::sled::groups::DefaultJoinTx;
    use crate::server::store::sled::tests::sled_temp_store;
    use crate::server::store::tests::{dump, temp_store};

    tree_set! {
        /// `meta` is in the join trees too: a bug this module turns into an error.
        #[allow(dead_code)]
        struct MetaTwice { meta, users; join: DefaultJoinTx }
    }

    tree_set! {
        struct JoinAndUsers { users; join: DefaultJoinTx }
    }

    #[test]
    fn a_set_naming_a_tree_twice_fails_and_writes_nothing() {
        let (_d, s) = temp_store();
        let before = dump(&s);
        let r = MetaTwice::run(s.sled(), |t| {
            t.users.insert(b"k".as_slice(), b"v".as_slice())?;
            Ok(())
        });
        match r {
            Err(StoreError::Backend(e)) => assert!(e.to_string().contains("MetaTwice"), "{e}"),
            other => panic!("expected a backend error, got {other:?}"),
        }
        assert_eq!(dump(&s), before);
    }

    #[test]
    fn nested_sets_give_each_tree_by_name() {
        let (_d, s) = sled_temp_store();
        JoinAndUsers::run(s.sled(), |t| {
            t.users.insert(b"u".as_slice(), b"1".as_slice())?;
            t.join
                .course_users
                .insert(b"c".as_slice(), b"2".as_slice())?;
            Ok(())
        })
        .unwrap();
        assert_eq!(
            s.sled().users.get(b"u").unwrap().as_deref(),
            Some(b"1".as_slice())
        );
        assert_eq!(
            s.sled().course_users.get(b"c").unwrap().as_deref(),
            Some(b"2".as_slice())
        );
    }
}
