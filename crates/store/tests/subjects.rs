//! `Store::subject_enrolled`: the lookup Identity Weaving relies on before a
//! node signs a credential share.

use sanctuary_store::{AppliedOp, EnrollmentId, StateChange, Store};
use zeroize::Zeroizing;

#[tokio::test]
async fn subject_enrolled_follows_enroll_and_delete() {
    let dir = tempfile::tempdir().expect("tmp");
    let url = format!("sqlite://{}", dir.path().join("node.db").display());
    let store = Store::open(&url).await.expect("open");
    let alice = "a1".repeat(32);
    let bob = "b0".repeat(32);
    assert!(!store.subject_enrolled(&alice).await.expect("query"));
    let ops = [
        StateChange::Enroll {
            id: EnrollmentId([1; 16]),
            kind: "embedding".into(),
            share: Zeroizing::new(vec![7; 64]),
            subject: Some(alice.clone()),
        },
        StateChange::Enroll {
            id: EnrollmentId([2; 16]),
            kind: "embedding".into(),
            share: Zeroizing::new(vec![8; 64]),
            subject: None,
        },
    ];
    for (seq, change) in ops.into_iter().enumerate() {
        store
            .apply(&AppliedOp {
                change,
                ..AppliedOp::log_only(seq as u64, 0, format!("op {seq}").into_bytes(), Vec::new())
            })
            .await
            .expect("apply");
    }
    assert!(store.subject_enrolled(&alice).await.expect("query"));
    assert!(!store.subject_enrolled(&bob).await.expect("query"));
    assert!(!store.subject_enrolled("").await.expect("query"));
    // A second handle on the same file (as the node's weaving state opens)
    // sees the same rows.
    let other = Store::open(&url).await.expect("open again");
    assert!(other.subject_enrolled(&alice).await.expect("query"));
    store
        .apply(&AppliedOp {
            change: StateChange::Delete {
                id: EnrollmentId([1; 16]),
            },
            ..AppliedOp::log_only(2, 0, b"delete".to_vec(), Vec::new())
        })
        .await
        .expect("delete");
    assert!(!other.subject_enrolled(&alice).await.expect("query"));
}
