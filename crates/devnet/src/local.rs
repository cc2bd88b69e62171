//! Three MPC parties in this process: one OS thread and one single-threaded
//! tokio runtime per party, connected by [`LocalTransport`] channels. Used
//! by `sanctuary bench` (timing) and `sanctuary eval` (the MPC cross-check
//! of a dataset's pair decisions).

use std::future::Future;
use std::ops::Range;

use anyhow::{Context, bail};
use sanctuary_mpc::{Gallery, LocalTransport, Scope, Session, match_gallery, open_bits};
use sanctuary_share::{ShareVec, deal};

/// Runs `party` once per party, each on its own thread over its end of a
/// fresh [`LocalTransport::mesh`], and returns the three results in party
/// order. `inputs[i]` goes to party `i`.
pub(crate) fn run_parties<I, O, F, Fut>(inputs: [I; 3], party: F) -> anyhow::Result<[O; 3]>
where
    I: Send + 'static,
    O: Send + 'static,
    F: FnOnce(LocalTransport, I) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = anyhow::Result<O>>,
{
    let mut handles = Vec::with_capacity(3);
    for (transport, input) in LocalTransport::mesh().into_iter().zip(inputs) {
        let party = party.clone();
        handles.push(std::thread::spawn(move || -> anyhow::Result<O> {
            let rt = tokio::runtime::Builder::new_current_thread().build()?;
            rt.block_on(party(transport, input))
        }));
    }
    let mut results = Vec::with_capacity(3);
    for h in handles {
        results.push(
            h.join()
                .map_err(|_| anyhow::anyhow!("a party thread panicked"))??,
        );
    }
    results
        .try_into()
        .map_err(|_| anyhow::anyhow!("expected three party results"))
}

/// Secret-shares `ring` (fresh OS randomness) and appends one share to each
/// party's gallery.
pub(crate) fn push_dealt(galleries: &mut [Gallery<u32>; 3], ring: &[u32]) -> anyhow::Result<()> {
    let shares = deal(ring, &mut rand::rng());
    for (g, s) in galleries.iter_mut().zip(&shares) {
        g.push(s).context("adding a share to a gallery")?;
    }
    Ok(())
}

/// Secret-shares every query; `result[i]` holds party `i`'s shares, in order.
pub(crate) fn deal_queries(rings: &[Vec<u32>]) -> [Vec<ShareVec<u32>>; 3] {
    let mut rng = rand::rng();
    let mut queries: [Vec<ShareVec<u32>>; 3] = Default::default();
    for ring in rings {
        for (q, s) in queries.iter_mut().zip(deal(ring, &mut rng)) {
            q.push(s);
        }
    }
    queries
}

/// One block of a per-entry matching job: queries `queries` against gallery
/// entries `entries`.
#[derive(Debug, Clone)]
pub(crate) struct Block {
    /// Indices into the query list.
    pub(crate) queries: Range<usize>,
    /// Indices into the gallery.
    pub(crate) entries: Range<usize>,
}

/// Matches each block with [`Scope::PerEntry`] and opens the bits to every
/// party. Returns, per block, one decision per (query, entry) in row-major
/// order (`(q - queries.start) * entries.len() + (e - entries.start)`).
/// Fails if the three parties opened different bits.
pub(crate) fn match_blocks(
    galleries: [Gallery<u32>; 3],
    queries: [Vec<ShareVec<u32>>; 3],
    blocks: Vec<Block>,
) -> anyhow::Result<Vec<Vec<bool>>> {
    let [g0, g1, g2] = galleries;
    let [q0, q1, q2] = queries;
    let inputs = [(g0, q0), (g1, q1), (g2, q2)];
    let [r0, r1, r2] = run_parties(inputs, move |transport, (gallery, queries)| {
        per_entry_party(transport, gallery, queries, blocks)
    })?;
    if r0 != r1 || r1 != r2 {
        bail!("the three parties opened different decision bits");
    }
    Ok(r0)
}

async fn per_entry_party(
    transport: LocalTransport,
    gallery: Gallery<u32>,
    queries: Vec<ShareVec<u32>>,
    blocks: Vec<Block>,
) -> anyhow::Result<Vec<Vec<bool>>> {
    let mut sess = Session::setup(transport).await?;
    let mut out = Vec::with_capacity(blocks.len());
    for b in blocks {
        let qs = queries
            .get(b.queries.clone())
            .context("query block outside the query list")?;
        let bits = match_gallery(&mut sess, &gallery, b.entries.clone(), qs, Scope::PerEntry)
            .await
            .with_context(|| {
                format!(
                    "matching queries {:?} against entries {:?}",
                    b.queries, b.entries
                )
            })?;
        let opened = open_bits(&mut sess, &bits).await?;
        if opened.len() != b.queries.len() * b.entries.len() {
            bail!(
                "expected {} decision bits, opened {}",
                b.queries.len() * b.entries.len(),
                opened.len()
            );
        }
        out.push(opened);
    }
    Ok(out)
}
