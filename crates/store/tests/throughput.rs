//! 1 GiB add + get through the filesystem store (ignored by default):
//! `GLIMPSE_STORE_BENCH_DIR=/dev/shm cargo test -p glimpse-store --release
//!  --test throughput -- --ignored --nocapture`

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use futures_core::Stream;
use glimpse_store::{AddOptions, FilesystemConfig, FilesystemStore, Store};

/// `n` chunks of one shared 64 KiB buffer (no allocation per chunk, so
/// the store's own cost is what gets measured).
struct Repeat {
    chunk: Bytes,
    left: usize,
}

impl Stream for Repeat {
    type Item = io::Result<Bytes>;
    fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.left == 0 {
            return Poll::Ready(None);
        }
        this.left -= 1;
        Poll::Ready(Some(Ok(this.chunk.clone())))
    }
}

#[test]
#[ignore]
fn one_gib_add_and_get() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime");
    let base = std::env::var("GLIMPSE_STORE_BENCH_DIR").unwrap_or_else(|_| "/tmp".into());
    let dir = format!("{base}/glimpse-store-bench-{}", std::process::id());
    let store = FilesystemStore::new(FilesystemConfig::with_datadir(&dir)).expect("store");
    let chunk = Bytes::from(
        (0..65536u32)
            .map(|i| (i % 251) as u8 + 1)
            .collect::<Vec<u8>>(),
    );
    let total: u64 = 1 << 30;
    rt.block_on(async {
        let t = Instant::now();
        let data = Box::pin(Repeat {
            chunk,
            left: (total / 65536) as usize,
        });
        let got = store
            .add("bench", data, AddOptions::default())
            .await
            .expect("add");
        let add = t.elapsed();
        assert_eq!(got.size, total);
        let t = Instant::now();
        let mut r = store.get(&got.uri, None).await.expect("get");
        let mut n = 0u64;
        while let Some(c) = std::future::poll_fn(|cx| r.stream.as_mut().poll_next(cx)).await {
            n += c.expect("chunk").len() as u64;
        }
        let get = t.elapsed();
        assert_eq!(n, total);
        let mib = (total >> 20) as f64;
        println!(
            "dir {dir}: add 1 GiB in {:.2}s ({:.0} MiB/s, incl. fdatasync), get in {:.2}s ({:.0} MiB/s)",
            add.as_secs_f64(),
            mib / add.as_secs_f64(),
            get.as_secs_f64(),
            mib / get.as_secs_f64()
        );
        store.delete(&got.uri).await.expect("delete");
    });
    let _ = std::fs::remove_dir_all(&dir);
}
