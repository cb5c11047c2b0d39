//! The debounced loop under tokio's paused clock: bursts coalesce into one measurement at the end
//! of the window, the window counts from arrival, floods cannot hold a burst open, attribution
//! keeps the last writer and lists the others, and the periodic fallback only fills in.

use super::*;

const MS: Duration = Duration::from_millis(1);

fn nft(generation: u32, pid: u32, comm: &str) -> Trigger {
    Trigger::change("nfnetlink")
        .with_generation(generation)
        .with_writer(pid, comm)
}

fn writer(pid: u32, comm: &str) -> Writer {
    Writer {
        pid,
        comm: comm.to_owned(),
    }
}

/// Runs the loop with a measure function that records (time since `start`, burst) and takes
/// `cost` per measurement.
fn start(
    window: impl Into<Window>,
    cost: Duration,
) -> (
    mpsc::Sender<Trigger>,
    mpsc::UnboundedReceiver<(Duration, Burst)>,
    Instant,
) {
    let (tx, rx) = mpsc::channel(TRIGGER_QUEUE);
    let (out_tx, out_rx) = mpsc::unbounded_channel();
    let started = Instant::now();
    tokio::spawn(debounced(rx, window.into(), move |burst| {
        let out = out_tx.clone();
        async move {
            let at = started.elapsed();
            tokio::time::sleep(cost).await;
            let _ = out.send((at, burst));
        }
    }));
    (tx, out_rx, started)
}

#[tokio::test(start_paused = true)]
async fn one_trigger_is_measured_when_its_window_closes() {
    let (tx, mut out, _) = start(15 * MS, Duration::ZERO);
    tx.send(nft(5, 100, "nft")).await.unwrap();
    let (at, burst) = out.recv().await.unwrap();
    assert_eq!(at, 15 * MS);
    assert_eq!(burst.len(), 1);
    assert_eq!(burst.generation(), Some(5));
    assert_eq!(burst.writer(), Some(&writer(100, "nft")));
}

#[tokio::test(start_paused = true)]
async fn a_burst_within_the_window_is_measured_once() {
    let (tx, mut out, _) = start(15 * MS, Duration::ZERO);
    for (i, pid) in [100, 101, 102].into_iter().enumerate() {
        tx.send(nft(10 + u32::try_from(i).unwrap(), pid, "nft"))
            .await
            .unwrap();
        tokio::time::sleep(5 * MS).await;
    }
    // 15 ms after the first: one measurement of all three.
    let (at, burst) = out.recv().await.unwrap();
    assert_eq!(at, 15 * MS);
    assert_eq!(burst.len(), 3);
    assert_eq!(burst.generation(), Some(12));
    // A change after the window is a new burst.
    tokio::time::sleep(10 * MS).await;
    tx.send(nft(13, 103, "nft")).await.unwrap();
    let (at, burst) = out.recv().await.unwrap();
    assert_eq!(at, 40 * MS);
    assert_eq!(burst.len(), 1);
    assert!(out.try_recv().is_err());
}

#[tokio::test(start_paused = true)]
async fn the_window_counts_from_arrival_so_triggers_queued_during_a_measurement_go_next() {
    let (tx, mut out, _) = start(15 * MS, 50 * MS);
    tx.send(nft(1, 1, "a")).await.unwrap();
    tokio::time::sleep(20 * MS).await; // the first measurement runs 15..65 ms
    tx.send(nft(2, 2, "b")).await.unwrap();
    tokio::time::sleep(10 * MS).await;
    tx.send(nft(3, 3, "c")).await.unwrap();
    let (at, first) = out.recv().await.unwrap();
    assert_eq!((at, first.len()), (15 * MS, 1));
    // Both queued triggers' windows have closed by 65 ms: measured right away, together.
    let (at, second) = out.recv().await.unwrap();
    assert_eq!((at, second.len()), (65 * MS, 2));
    assert_eq!(second.writer(), Some(&writer(3, "c")));
}

#[tokio::test(start_paused = true)]
async fn a_flood_of_triggers_cannot_hold_a_burst_open() {
    let (tx, mut out, _) = start(15 * MS, Duration::ZERO);
    // Two triggers per millisecond (tokio's timer ticks in whole milliseconds, so a shorter
    // sleep would round up to one).
    let flood = tokio::spawn(async move {
        for g in (0..).step_by(2) {
            for g in [g, g + 1] {
                if tx.send(nft(g, 7, "kube-proxy")).await.is_err() {
                    return;
                }
            }
            tokio::time::sleep(MS).await;
        }
    });
    let (at, burst) = out.recv().await.unwrap();
    assert_eq!(at, 15 * MS);
    assert!(burst.len() >= 20, "{}", burst.len());
    let (at, _) = out.recv().await.unwrap();
    assert!(at <= 31 * MS, "{at:?}");
    flood.abort();
}

#[tokio::test(start_paused = true)]
async fn the_loop_measures_the_last_burst_and_stops_when_sources_are_gone() {
    let (tx, mut out, _) = start(15 * MS, Duration::ZERO);
    tx.send(nft(1, 1, "nft")).await.unwrap();
    drop(tx);
    let (_, burst) = out.recv().await.unwrap();
    assert_eq!(burst.len(), 1);
    assert!(out.recv().await.is_none(), "the loop must end");
}

#[test]
fn the_last_writer_is_named_and_the_others_listed_once() {
    let mut burst = Burst::new(nft(1, 10, "nft"));
    burst.push(nft(2, 20, "firewalld"));
    burst.push(nft(3, 10, "nft"));
    burst.push(nft(4, 30, "iptables-nft"));
    let a = burst.annotations();
    assert_eq!(a.cause.as_deref(), Some("nfnetlink"));
    assert_eq!(a.generation, Some(4));
    assert_eq!(a.writer, Some(writer(30, "iptables-nft")));
    assert_eq!(
        a.other_writers,
        vec![writer(20, "firewalld"), writer(10, "nft")]
    );
    assert!(a.time.is_some());
}

#[test]
fn one_writer_repeating_lists_no_others() {
    let mut burst = Burst::new(nft(1, 10, "nft"));
    burst.push(nft(2, 10, "nft"));
    let a = burst.annotations();
    assert_eq!(a.writer, Some(writer(10, "nft")));
    assert!(a.other_writers.is_empty());
}

#[test]
fn other_writers_are_capped_keeping_the_most_recent() {
    let mut burst = Burst::new(nft(0, 0, "w"));
    for pid in 1..=40 {
        burst.push(nft(pid, pid, "w"));
    }
    let a = burst.annotations();
    assert_eq!(a.writer, Some(writer(40, "w")));
    assert_eq!(a.other_writers.len(), MAX_OTHER_WRITERS);
    assert_eq!(a.other_writers.first(), Some(&writer(24, "w")));
    assert_eq!(a.other_writers.last(), Some(&writer(39, "w")));
}

#[test]
fn cause_of_a_burst_lost_events_then_changes_then_poll() {
    let poll = Burst::new(Trigger::poll());
    assert_eq!(poll.annotations().cause.as_deref(), Some("poll"));
    assert_eq!(poll.annotations().writer, None);

    let mut change = Burst::new(Trigger::poll());
    change.push(nft(9, 1, "nft"));
    change.push(Trigger::poll());
    assert_eq!(change.cause(), Cause::Change("nfnetlink"));

    let mut lost = Burst::new(nft(9, 1, "nft"));
    lost.push(Trigger::lost("overrun"));
    lost.push(nft(10, 2, "nft"));
    let a = lost.annotations();
    assert_eq!(a.cause.as_deref(), Some("overrun"));
    // What is known is still listed; the cause says it may be incomplete.
    assert_eq!(a.generation, Some(10));
    assert_eq!(a.writer, Some(writer(2, "nft")));
}

#[tokio::test(start_paused = true)]
async fn periodic_polls_after_each_interval_and_skips_when_full() {
    let (tx, mut rx) = mpsc::channel(1);
    let started = Instant::now();
    tokio::spawn(periodic(tx, Duration::from_secs(30)));
    let first = rx.recv().await.unwrap();
    assert_eq!(first.cause, Cause::Poll);
    assert_eq!(started.elapsed(), Duration::from_secs(30));
    // Not drained for two intervals: the queue (1) is full, the extra poll is skipped.
    tokio::time::sleep(Duration::from_secs(65)).await;
    assert!(rx.try_recv().is_ok());
    assert!(rx.try_recv().is_err());
    drop(rx);
}

#[tokio::test(start_paused = true)]
async fn spawn_measure_loop_wires_sources_and_fallback_to_one_measure_function() {
    let (out_tx, mut out) = mpsc::unbounded_channel();
    let started = Instant::now();
    let tx = spawn_measure_loop(
        "test",
        Duration::from_secs(30),
        COALESCE_WINDOW,
        move |burst: Burst| {
            let out = out_tx.clone();
            async move {
                let _ = out.send((started.elapsed(), burst.cause()));
            }
        },
    );
    tx.send(nft(1, 1, "nft")).await.unwrap();
    assert_eq!(
        out.recv().await.unwrap(),
        (COALESCE_WINDOW, Cause::Change("nfnetlink"))
    );
    assert_eq!(
        out.recv().await.unwrap(),
        (Duration::from_secs(30) + COALESCE_WINDOW, Cause::Poll)
    );
}

#[tokio::test(start_paused = true)]
async fn an_unattributed_burst_waits_for_a_writer_only_up_to_the_attribution_grace() {
    let window = Window {
        coalesce: 15 * MS,
        attribution: 50 * MS,
    };
    let (tx, mut out, _) = start(window, Duration::ZERO);
    // rtnetlink first (no writer), the eBPF event naming the writer 30 ms later.
    tx.send(Trigger::change("rtnetlink")).await.unwrap();
    tokio::time::sleep(30 * MS).await;
    tx.send(Trigger::change("ebpf").with_writer(42, "ip"))
        .await
        .unwrap();
    let (at, burst) = out.recv().await.unwrap();
    assert_eq!(at, 30 * MS, "measured as soon as the writer is known");
    assert_eq!(burst.writer(), Some(&writer(42, "ip")));
    // No writer ever comes: measured when the grace ends, unattributed.
    tokio::time::sleep(100 * MS).await;
    tx.send(Trigger::change("rtnetlink")).await.unwrap();
    let (at, burst) = out.recv().await.unwrap();
    assert_eq!(at, 130 * MS + 65 * MS);
    assert_eq!(burst.writer(), None);
    // An attributed burst does not wait.
    tx.send(nft(9, 9, "nft")).await.unwrap();
    let (at, _) = out.recv().await.unwrap();
    assert_eq!(at, 195 * MS + 15 * MS);
}
