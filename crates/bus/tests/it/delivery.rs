//! Outbox and inbox end to end: state and events commit together, every event is delivered,
//! no effect happens twice — also when NATS goes down or a consumer dies before acking.

use std::time::Duration;

use lyceum_bus::{EventBus, Inbox, MemoryBus, Outbox, OutgoingEvent, RelaySettings};
use lyceum_store::Store;
use lyceum_testkit::{NatsServer, TestDatabase, databases};
use tokio_util::sync::CancellationToken;

use crate::helpers::{Recorder, applied, event, nats_bus, spec, store, wait_applied};

fn relay_settings() -> RelaySettings {
    RelaySettings {
        poll_interval: Duration::from_millis(100),
        max_backoff: Duration::from_millis(500),
        ..RelaySettings::default()
    }
}

async fn write_events(store: &Store, outbox: &Outbox, range: std::ops::Range<u32>, per_tx: u32) {
    let mut n = range.start;
    while n < range.end {
        let upto = (n + per_tx).min(range.end);
        let events: Vec<_> = (n..upto).map(event).collect();
        let mut tx = store.begin().await.unwrap();
        Outbox::enqueue(&mut tx, &events).await.unwrap();
        outbox.commit(tx).await.unwrap();
        n = upto;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn events_commit_and_roll_back_with_the_state_change() {
    for db in databases().await {
        let store = store(&db).await;
        let bus = EventBus::Memory(MemoryBus::new());
        let outbox = Outbox::new(store.clone(), bus.clone(), relay_settings());

        let mut tx = store.begin().await.unwrap();
        Outbox::enqueue(&mut tx, &[event(1)]).await.unwrap();
        tx.rollback().await.unwrap();
        assert_eq!(outbox.lag().await.unwrap().0, 0, "{}", db.backend());

        write_events(&store, &outbox, 2..4, 2).await;
        assert_eq!(outbox.lag().await.unwrap().0, 2, "{}", db.backend());
        assert_eq!(outbox.relay_once().await.unwrap(), 2);
        assert_eq!(outbox.lag().await.unwrap().0, 0, "{}", db.backend());

        let mut sub = bus.subscribe(&spec("x", "lyceum.>")).await.unwrap();
        let got = sub.next_batch(10).await.unwrap();
        let numbers: Vec<u32> = got
            .iter()
            .map(|d| crate::helpers::number(&d.envelope))
            .collect();
        assert_eq!(numbers, vec![2, 3], "{}", db.backend());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn relay_and_inbox_apply_every_event_once_on_both_backends() {
    for db in databases().await {
        let store = store(&db).await;
        let bus = EventBus::Memory(MemoryBus::new());
        let outbox = Outbox::new(store.clone(), bus.clone(), relay_settings());
        let stop = CancellationToken::new();
        let relay = tokio::spawn(outbox.clone().run_relay(stop.clone()));
        let inbox = Inbox::new(
            store.clone(),
            bus.clone(),
            spec("rec", "lyceum.>"),
            Recorder,
        );
        let consumer = tokio::spawn(inbox.run(stop.clone()));

        write_events(&store, &outbox, 0..300, 7).await;
        let got = wait_applied(&store, 300, Duration::from_secs(20)).await;
        assert_eq!(got, (300, 300), "{}", db.backend());

        stop.cancel();
        relay.await.unwrap();
        consumer.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn events_written_while_nats_is_down_are_delivered_after_it_returns() {
    let Some(mut nats) = NatsServer::start() else {
        return;
    };
    let db = TestDatabase::sqlite();
    let store = store(&db).await;
    let bus = nats_bus(&nats.url()).await;
    let outbox = Outbox::new(store.clone(), bus.clone(), relay_settings());
    let stop = CancellationToken::new();
    let relay = tokio::spawn(outbox.clone().run_relay(stop.clone()));
    let inbox = Inbox::new(
        store.clone(),
        bus.clone(),
        spec("down", "lyceum.>"),
        Recorder,
    );
    let consumer = tokio::spawn(inbox.run(stop.clone()));

    write_events(&store, &outbox, 0..10, 5).await;
    assert_eq!(
        wait_applied(&store, 10, Duration::from_secs(15)).await,
        (10, 10)
    );

    nats.stop();
    write_events(&store, &outbox, 10..60, 5).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (pending, _) = outbox.lag().await.unwrap();
    assert_eq!(pending, 50, "events wait in the outbox while NATS is down");

    nats.restart();
    let got = wait_applied(&store, 60, Duration::from_secs(30)).await;
    assert_eq!(
        got,
        (60, 60),
        "every event delivered once after NATS returned"
    );
    assert_eq!(outbox.lag().await.unwrap().0, 0);

    stop.cancel();
    relay.await.unwrap();
    consumer.await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_consumer_that_dies_before_ack_gets_the_event_again_and_applies_it_once() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    for (kind, bus) in [
        ("memory", EventBus::Memory(MemoryBus::new())),
        ("nats", nats_bus(&nats.url()).await),
    ] {
        let db = TestDatabase::sqlite();
        let store = store(&db).await;
        let outbox = Outbox::new(store.clone(), bus.clone(), relay_settings());
        write_events(&store, &outbox, 0..3, 3).await;
        assert_eq!(outbox.relay_once().await.unwrap(), 3);

        let consumer_spec = spec("dies", "lyceum.>");
        let inbox = Inbox::new(store.clone(), bus.clone(), consumer_spec.clone(), Recorder);
        {
            // First life: commits the effect, then dies before acknowledging.
            let mut sub = bus.subscribe(&consumer_spec).await.unwrap();
            let mut batch = Vec::new();
            while batch.len() < 3 {
                batch.extend(sub.next_batch(3 - batch.len()).await.unwrap());
            }
            inbox.apply(&batch).await.unwrap();
            assert_eq!(applied(&store).await, (3, 3), "{kind}");
        }

        // Second life: the events come again (after the ack wait on NATS), the inbox absorbs them.
        let stop = CancellationToken::new();
        let task = tokio::spawn(inbox.clone().run(stop.clone()));
        tokio::time::sleep(Duration::from_secs(4)).await;
        stop.cancel();
        task.await.unwrap();
        assert_eq!(
            applied(&store).await,
            (3, 3),
            "{kind}: effect happened once"
        );

        // And they were acknowledged this time: a new life receives nothing.
        let mut sub = bus.subscribe(&consumer_spec).await.unwrap();
        let more = tokio::time::timeout(Duration::from_millis(1500), sub.next_batch(10)).await;
        assert!(more.is_err(), "{kind}: nothing left to deliver");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_thousand_events_are_all_consumed_and_none_applied_twice() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    for db in databases().await {
        let store = store(&db).await;
        let bus = nats_bus(&nats.url()).await;
        let outbox = Outbox::new(store.clone(), bus.clone(), relay_settings());
        let stop = CancellationToken::new();
        let durable = format!("bulk-{}", db.backend());
        let inbox = Inbox::new(
            store.clone(),
            bus.clone(),
            spec(&durable, "lyceum.>"),
            Recorder,
        );
        let consumer = tokio::spawn(inbox.run(stop.clone()));

        let started = std::time::Instant::now();
        let events: Vec<_> = (0..10_000).map(event).collect();
        for chunk in events.chunks(100) {
            let mut tx = store.begin().await.unwrap();
            Outbox::enqueue(&mut tx, chunk).await.unwrap();
            tx.commit().await.unwrap();
        }
        // A relay that crashed after publishing but before deleting publishes again: publish
        // the first 1,000 events (same ids) behind the outbox's back, then start the relay.
        let replay: Vec<_> = events[..1_000]
            .iter()
            .map(OutgoingEvent::from_new)
            .collect();
        bus.publish(&replay).await.unwrap();
        let relay = tokio::spawn(outbox.clone().run_relay(stop.clone()));

        let got = wait_applied(&store, 10_000, Duration::from_secs(120)).await;
        eprintln!(
            "{}: {} events consumed in {:?}",
            db.backend(),
            got.0,
            started.elapsed()
        );
        // Give a late duplicate the chance to show up.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let got = applied(&store).await;
        assert_eq!(
            got,
            (10_000, 10_000),
            "{}: all consumed, none twice",
            db.backend()
        );
        stop.cancel();
        relay.await.unwrap();
        consumer.await.unwrap();
        // Delete the stream's events for the next backend's run.
        if let EventBus::Nats(n) = &bus {
            let js = async_nats::jetstream::new(n.client().clone());
            let _ = js.delete_stream("LYCEUM").await;
        }
    }
}
