//! Merkle hashing and proofs against the RFC 6962 / RFC 9162 reference vectors.
//!
//! Source of the vectors: the certificate-transparency reference
//! implementation's merkle tree tests (`merkle_tree_test.cc`), as carried by
//! Trillian's `merkle/testonly/constants.go` (`LeafInputs`, `RootHashes`,
//! inclusion and consistency proof tables). Every vector is additionally
//! recomputed here with a naive recursive MTH/PATH/PROOF implementation
//! written straight from RFC 9162 section 2.1, independent of the crate's
//! stored-node code.

use proptest::prelude::*;
use sanctuary_log::{
    Hash, MemoryTree, ProofError, leaf_hash, node_hash, verify_consistency, verify_inclusion,
};
use sha2::{Digest, Sha256};

fn hx(s: &str) -> Hash {
    Hash::from_hex(s).expect("test vector hex")
}

fn bytes(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// The 8 reference leaves ("" first: the size-1 root is SHA-256(0x00)).
const LEAVES: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];

/// Roots for sizes 0..=8.
const ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

/// (leaf index (0-based), tree size, path).
const INCLUSION: &[(u64, u64, &[&str])] = &[
    (0, 1, &[]),
    (
        0,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        &[
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        3,
        &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    ),
    (
        1,
        5,
        &[
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
];

/// (old size, new size, proof).
const CONSISTENCY: &[(u64, u64, &[&str])] = &[
    (1, 1, &[]),
    (
        1,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        &[
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
];

// ---- naive reference, straight from RFC 9162 section 2.1, using sha2 directly ----

fn ref_leaf(d: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(d);
    h.finalize().into()
}

fn ref_node(l: &[u8; 32], r: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(l);
    h.update(r);
    h.finalize().into()
}

fn k_of(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

fn ref_mth(d: &[Vec<u8>]) -> [u8; 32] {
    match d.len() {
        0 => Sha256::digest([]).into(),
        1 => ref_leaf(&d[0]),
        n => {
            let k = k_of(n);
            ref_node(&ref_mth(&d[..k]), &ref_mth(&d[k..]))
        }
    }
}

fn ref_path(m: usize, d: &[Vec<u8>]) -> Vec<[u8; 32]> {
    let n = d.len();
    if n <= 1 {
        return vec![];
    }
    let k = k_of(n);
    if m < k {
        let mut p = ref_path(m, &d[..k]);
        p.push(ref_mth(&d[k..]));
        p
    } else {
        let mut p = ref_path(m - k, &d[k..]);
        p.push(ref_mth(&d[..k]));
        p
    }
}

fn ref_subproof(m: usize, d: &[Vec<u8>], b: bool) -> Vec<[u8; 32]> {
    let n = d.len();
    if m == n {
        return if b { vec![] } else { vec![ref_mth(d)] };
    }
    let k = k_of(n);
    if m <= k {
        let mut p = ref_subproof(m, &d[..k], b);
        p.push(ref_mth(&d[k..]));
        p
    } else {
        let mut p = ref_subproof(m - k, &d[k..], false);
        p.push(ref_mth(&d[..k]));
        p
    }
}

fn ref_consistency(m: usize, d: &[Vec<u8>]) -> Vec<[u8; 32]> {
    if m == 0 || m == d.len() {
        vec![]
    } else {
        ref_subproof(m, d, true)
    }
}

fn leaves() -> Vec<Vec<u8>> {
    LEAVES.iter().map(|s| bytes(s)).collect()
}

fn tree_of(data: &[Vec<u8>]) -> MemoryTree {
    let mut t = MemoryTree::new();
    for d in data {
        t.push(leaf_hash(d));
    }
    t
}

fn raw(v: &[Hash]) -> Vec<[u8; 32]> {
    v.iter().map(|h| h.0).collect()
}

#[test]
fn empty_tree_root() {
    assert_eq!(Hash::EMPTY_ROOT, hx(ROOTS[0]));
    assert_eq!(MemoryTree::new().root(), hx(ROOTS[0]));
    assert_eq!(ref_mth(&[]), hx(ROOTS[0]).0);
}

#[test]
fn roots_match_reference_vectors_and_naive_mth() {
    let d = leaves();
    let t = tree_of(&d);
    for size in 0..=8 {
        let want = hx(ROOTS[size]);
        assert_eq!(ref_mth(&d[..size]), want.0, "naive MTH, size {size}");
        assert_eq!(
            t.root_at(size as u64),
            Some(want),
            "stored-node root, size {size}"
        );
        assert_eq!(
            tree_of(&d[..size]).root(),
            want,
            "incremental root, size {size}"
        );
    }
}

#[test]
fn leaf_and_node_hashing_use_rfc_prefixes() {
    assert_eq!(leaf_hash(b""), hx(ROOTS[1]));
    let (a, b) = (leaf_hash(&[]), leaf_hash(&[0]));
    assert_eq!(node_hash(&a, &b), hx(ROOTS[2]));
    assert_eq!(
        node_hash(&a, &b).0,
        ref_node(&ref_leaf(&[]), &ref_leaf(&[0]))
    );
}

#[test]
fn inclusion_vectors() {
    let d = leaves();
    let t = tree_of(&d);
    for &(index, size, path) in INCLUSION {
        let want: Vec<Hash> = path.iter().map(|s| hx(s)).collect();
        let proof = t.inclusion_proof(index, size).expect("in range");
        assert_eq!(proof.path, want, "generated path, leaf {index} size {size}");
        assert_eq!(
            raw(&want),
            ref_path(index as usize, &d[..size as usize]),
            "naive PATH"
        );
        let leaf = leaf_hash(&d[index as usize]);
        let root = hx(ROOTS[size as usize]);
        verify_inclusion(&leaf, index, size, &want, &root).expect("vector verifies");
        // Wrong leaf, wrong index, wrong size, wrong root all fail.
        assert!(verify_inclusion(&leaf_hash(b"x"), index, size, &want, &root).is_err());
        if size > 1 {
            assert!(verify_inclusion(&leaf, (index + 1) % size, size, &want, &root).is_err());
        }
        assert!(verify_inclusion(&leaf, index, size, &want, &hx(ROOTS[0])).is_err());
    }
}

#[test]
fn consistency_vectors() {
    let d = leaves();
    let t = tree_of(&d);
    for &(old, new, path) in CONSISTENCY {
        let want: Vec<Hash> = path.iter().map(|s| hx(s)).collect();
        let proof = t.consistency_proof(old, new).expect("in range");
        assert_eq!(proof.path, want, "generated proof {old}->{new}");
        assert_eq!(
            raw(&want),
            ref_consistency(old as usize, &d[..new as usize]),
            "naive PROOF"
        );
        let (r1, r2) = (hx(ROOTS[old as usize]), hx(ROOTS[new as usize]));
        verify_consistency(old, new, &r1, &r2, &want).expect("vector verifies");
        if old != new {
            assert!(verify_consistency(old, new, &r2, &r1, &want).is_err());
            assert!(verify_consistency(old, new, &r1, &hx(ROOTS[0]), &want).is_err());
            assert!(verify_consistency(old, new, &r1, &r2, &want[1..]).is_err());
        }
    }
}

#[test]
fn consistency_edge_cases() {
    let (e, r1) = (Hash::EMPTY_ROOT, hx(ROOTS[1]));
    verify_consistency(0, 1, &e, &r1, &[]).expect("everything extends the empty tree");
    assert!(verify_consistency(0, 1, &r1, &r1, &[]).is_err());
    assert!(verify_consistency(0, 1, &e, &r1, &[r1]).is_err());
    assert!(matches!(
        verify_consistency(2, 1, &r1, &r1, &[]),
        Err(ProofError::SizeOrder { .. })
    ));
    assert!(verify_consistency(3, 3, &r1, &hx(ROOTS[3]), &[]).is_err());
    assert!(matches!(
        verify_inclusion(&r1, 1, 1, &[], &r1),
        Err(ProofError::IndexOutOfRange { .. })
    ));
}

fn arb_leaves() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(prop::collection::vec(any::<u8>(), 0..12), 1..70)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn roots_and_proofs_match_naive_reference(d in arb_leaves(), a in any::<prop::sample::Index>(), b in any::<prop::sample::Index>()) {
        let t = tree_of(&d);
        let n = d.len();
        let size = b.index(n) + 1;
        let idx = a.index(size);
        prop_assert_eq!(t.root_at(size as u64).expect("in range").0, ref_mth(&d[..size]));
        let p = t.inclusion_proof(idx as u64, size as u64).expect("in range");
        prop_assert_eq!(raw(&p.path), ref_path(idx, &d[..size]));
        let old = a.index(size + 1);
        let c = t.consistency_proof(old as u64, size as u64).expect("in range");
        prop_assert_eq!(raw(&c.path), ref_consistency(old, &d[..size]));
    }

    #[test]
    fn generated_proofs_verify_and_tampered_ones_fail(
        d in arb_leaves(),
        a in any::<prop::sample::Index>(),
        b in any::<prop::sample::Index>(),
        flip in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let t = tree_of(&d);
        let n = d.len() as u64;
        let size = b.index(d.len()) as u64 + 1;
        let idx = a.index(size as usize) as u64;
        let root = t.root_at(size).expect("in range");
        let leaf = leaf_hash(&d[idx as usize]);
        let p = t.inclusion_proof(idx, size).expect("in range");
        prop_assert!(p.verify(&leaf, &root).is_ok());
        if !p.path.is_empty() {
            let mut bad = p.clone();
            let i = flip.index(bad.path.len());
            bad.path[i].0[usize::from(bit) % 32] ^= 1 << bit;
            prop_assert!(bad.verify(&leaf, &root).is_err());
            let mut short = p.clone();
            short.path.pop();
            prop_assert!(short.verify(&leaf, &root).is_err());
        }
        let mut long = p.clone();
        long.path.push(root);
        prop_assert!(long.verify(&leaf, &root).is_err());

        // Consistency from `size` to the full tree.
        let old_root = root;
        let new_root = t.root();
        let c = t.consistency_proof(size, n).expect("in range");
        prop_assert!(c.verify(&old_root, &new_root).is_ok());
        if !c.path.is_empty() {
            let mut bad = c.clone();
            let i = flip.index(bad.path.len());
            bad.path[i].0[usize::from(bit) % 32] ^= 1 << bit;
            prop_assert!(bad.verify(&old_root, &new_root).is_err());
            let mut short = c.clone();
            short.path.pop();
            prop_assert!(short.verify(&old_root, &new_root).is_err());
        }
        if size < n {
            // A tree with a different leaf at idx does not extend to the same new root.
            let mut other = d.clone();
            other[idx as usize].push(0xff);
            let forged_old = tree_of(&other).root_at(size).expect("in range");
            prop_assert!(c.verify(&forged_old, &new_root).is_err());
        }
    }
}
