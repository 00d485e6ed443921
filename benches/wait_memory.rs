//! Memory per waiting job with the async adapter: live heap bytes (a counting
//! global allocator in this binary) and RSS (`/proc/self/statm`) before and while
//! N waits (`Client::wait_many(ids, N)`, N = 1 000 and 10 000) are parked between
//! polls (30 s poll interval, jobs processing for 60 s), after every wait has had
//! its first answer. Per job = (during − before) / N. "Before" is a warmed-up
//! client (one request done, its connection idle in the pool).
//!
//! `DEEPIDV_BENCH_URL=http://127.0.0.1:PORT cargo bench -p deepidv-benches --bench wait_memory`
//! (without it, a simulator in this process, whose allocations would count too: the
//! scripts always pass one). `BENCH_MEMORY_JOBS=1000,10000`.
//! Prints `RESULT jobs=<N> heap_bytes_per_job=<x> rss_bytes_per_job=<y>` lines.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{Sim, client, env_or};

/// The system allocator, counting the bytes currently allocated.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; only a counter is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is the system allocator's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as above.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as above.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            LIVE.fetch_add(new_size, Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn live() -> usize {
    LIVE.load(Ordering::Relaxed)
}

fn rss() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<usize>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// Live bytes once they stop moving (four reads 100 ms apart within 0.1 %:
/// closed connections are freed by their own tasks a little later).
async fn settled() -> usize {
    let mut last = live();
    let mut stable = 0;
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = live();
        stable = if now.abs_diff(last) * 1000 <= last {
            stable + 1
        } else {
            0
        };
        last = now;
        if stable == 3 {
            break;
        }
    }
    last
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run());
}

async fn run() {
    let sim = Sim::from_env();
    let sizes: Vec<usize> = std::env::var("BENCH_MEMORY_JOBS")
        .unwrap_or_else(|_| "1000,10000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let poll = Duration::from_secs(env_or("BENCH_MEMORY_POLL_S", 30u64));
    let mut deltas = Vec::new();
    for n in sizes {
        let c = client(&sim.url, poll, None);
        let ids = sim.create_jobs(n, Duration::from_secs(60)).await;
        let probe = ids[0].clone();
        println!(
            "size of one wait future: {} bytes; of a Poller: {} bytes",
            std::mem::size_of_val(&c.wait(&probe)),
            std::mem::size_of_val(&c.wait_poller(&probe)),
        );
        c.get_job(&probe).await.unwrap(); // warm: a connection in the pool
        sim.clear_requests().await;
        let (heap0, rss0) = (settled().await, rss());

        let waiter = c.clone();
        let task = tokio::spawn(async move { waiter.wait_many(ids, n).await });
        let mut first_polls = 0;
        for _ in 0..300 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            first_polls = sim.count_gets().await;
            if first_polls >= n {
                break;
            }
        }
        assert!(first_polls >= n, "only {first_polls} of {n} waits polled");
        assert!(
            first_polls < 2 * n,
            "a wait polled twice: the poll interval is too short"
        );
        let (heap1, rss1) = (settled().await, rss());
        assert!(!task.is_finished(), "the waits are still parked");

        let heap = heap1.saturating_sub(heap0) as f64 / n as f64;
        let rss_per = rss1.saturating_sub(rss0) as f64 / n as f64;
        println!(
            "{n} parked waits: heap {heap0} -> {heap1} bytes, RSS {rss0} -> {rss1} bytes ({first_polls} first polls)"
        );
        task.abort();
        let _ = task.await;
        drop(c);
        let after = settled().await;
        println!("after cancelling them: heap {after} bytes");
        println!("RESULT jobs={n} heap_bytes_per_job={heap:.0} rss_bytes_per_job={rss_per:.0}");
        deltas.push((n, heap1 as f64 - heap0 as f64));
    }
    // the cost of one more parked wait, without what is paid once (idle connections, runtime growth)
    if let [(n1, d1), .., (n2, d2)] = deltas[..]
        && n2 > n1
    {
        println!(
            "RESULT marginal jobs={n1}..{n2} heap_bytes_per_job={:.0}",
            (d2 - d1) / (n2 - n1) as f64
        );
    }
}
