//! The contract every `EventBus` keeps, run against the in-process bus and real NATS.

use std::collections::HashSet;
use std::time::Duration;

use crate::helpers::{buses, number, outgoing, spec};

async fn take(sub: &mut lyceum_bus::Subscription, n: usize) -> Vec<lyceum_bus::Delivery> {
    let mut out = Vec::new();
    while out.len() < n {
        let batch = tokio::time::timeout(Duration::from_secs(10), sub.next_batch(n - out.len()))
            .await
            .expect("events arrive in time")
            .expect("batch");
        out.extend(batch);
    }
    out
}

async fn nothing_more(sub: &mut lyceum_bus::Subscription, wait: Duration) {
    if let Ok(Ok(batch)) = tokio::time::timeout(wait, sub.next_batch(10)).await {
        let ids: Vec<u32> = batch.iter().map(|d| number(&d.envelope)).collect();
        panic!("unexpected deliveries {ids:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn delivers_what_was_published_before_subscribing_in_order() {
    for (kind, bus) in buses().await.list {
        bus.publish(&(1..=5).map(outgoing).collect::<Vec<_>>())
            .await
            .unwrap();
        let mut sub = bus.subscribe(&spec("c1", "lyceum.lms.>")).await.unwrap();
        let got = take(&mut sub, 5).await;
        let numbers: Vec<u32> = got.iter().map(|d| number(&d.envelope)).collect();
        assert_eq!(numbers, vec![1, 2, 3, 4, 5], "{kind}");
        assert!(got.iter().all(|d| d.attempt == 1), "{kind}");
        assert_eq!(got[0].subject, "lyceum.lms.enrollment.created", "{kind}");
        for d in got {
            d.ack().await.unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_durable_consumer_resumes_after_its_last_ack() {
    for (kind, bus) in buses().await.list {
        bus.publish(&[outgoing(1), outgoing(2)]).await.unwrap();
        {
            let mut sub = bus.subscribe(&spec("resume", "lyceum.>")).await.unwrap();
            for d in take(&mut sub, 2).await {
                d.ack().await.unwrap();
            }
        }
        // Let NATS process the acks before the consumer is bound again.
        tokio::time::sleep(Duration::from_millis(200)).await;
        bus.publish(&[outgoing(3)]).await.unwrap();
        let mut sub = bus.subscribe(&spec("resume", "lyceum.>")).await.unwrap();
        let got = take(&mut sub, 1).await;
        assert_eq!(number(&got[0].envelope), 3, "{kind}");
        for d in got {
            d.ack().await.unwrap();
        }
        nothing_more(&mut sub, Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unacknowledged_event_is_delivered_again() {
    for (kind, bus) in buses().await.list {
        bus.publish(&[outgoing(7)]).await.unwrap();
        let mut sub = bus.subscribe(&spec("redeliver", "lyceum.>")).await.unwrap();
        let first = take(&mut sub, 1).await;
        drop(first); // the consumer "dies" before acking
        let again = take(&mut sub, 1).await;
        assert_eq!(number(&again[0].envelope), 7, "{kind}");
        assert_eq!(again[0].attempt, 2, "{kind}");
        for d in again {
            d.ack().await.unwrap();
        }
        nothing_more(&mut sub, Duration::from_millis(1500)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_nak_redelivers_after_the_delay() {
    for (kind, bus) in buses().await.list {
        bus.publish(&[outgoing(8)]).await.unwrap();
        let mut sub = bus.subscribe(&spec("nak", "lyceum.>")).await.unwrap();
        let d = take(&mut sub, 1).await.pop().unwrap();
        d.nak(Duration::from_millis(300)).await.unwrap();
        let again = take(&mut sub, 1).await.pop().unwrap();
        assert_eq!((number(&again.envelope), again.attempt), (8, 2), "{kind}");
        again.ack().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_event_id_is_delivered_once() {
    for (kind, bus) in buses().await.list {
        let e = outgoing(9);
        bus.publish(&[e.clone(), e.clone()]).await.unwrap();
        bus.publish(&[e]).await.unwrap();
        bus.publish(&[outgoing(10)]).await.unwrap();
        let mut sub = bus.subscribe(&spec("dedupe", "lyceum.>")).await.unwrap();
        let got = take(&mut sub, 2).await;
        let numbers: Vec<u32> = got.iter().map(|d| number(&d.envelope)).collect();
        assert_eq!(numbers, vec![9, 10], "{kind}");
        for d in got {
            d.ack().await.unwrap();
        }
        nothing_more(&mut sub, Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn consumers_are_independent_and_filtered() {
    for (kind, bus) in buses().await.list {
        let mut other = outgoing(2);
        other.subject = "lyceum.xapi.submit".into();
        bus.publish(&[outgoing(1), other]).await.unwrap();
        let mut lms = bus
            .subscribe(&spec("f-lms", "lyceum.lms.*.created"))
            .await
            .unwrap();
        let mut all = bus.subscribe(&spec("f-all", "lyceum.>")).await.unwrap();
        let got_lms = take(&mut lms, 1).await;
        assert_eq!(
            got_lms[0].subject, "lyceum.lms.enrollment.created",
            "{kind}"
        );
        let got_all = take(&mut all, 2).await;
        let subjects: HashSet<_> = got_all.iter().map(|d| d.subject.clone()).collect();
        assert_eq!(subjects.len(), 2, "{kind}");
        for d in got_lms.into_iter().chain(got_all) {
            d.ack().await.unwrap();
        }
        nothing_more(&mut lms, Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn trace_headers_travel_with_the_event() {
    for (kind, bus) in buses().await.list {
        let mut e = outgoing(11);
        e.headers = vec![(
            "traceparent".into(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into(),
        )];
        bus.publish(&[e]).await.unwrap();
        let mut sub = bus.subscribe(&spec("trace", "lyceum.>")).await.unwrap();
        let d = take(&mut sub, 1).await.pop().unwrap();
        let tp = d
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("traceparent"));
        assert_eq!(
            tp.map(|(_, v)| v.as_str()),
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            "{kind}"
        );
        d.ack().await.unwrap();
    }
}
