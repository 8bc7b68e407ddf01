//! One user action is one trace: an OTLP collector inside the test receives the spans of the
//! microservices platform and the "complete an item" request is followed from the gateway
//! through the LMS, its outbox, the LRS consumer and the LXP consumer, parent by parent.
//!
//! Telemetry is process-wide, so this file holds one test (nextest runs each test in its own
//! process).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;

use lyceum_e2e::journey;
use lyceum_e2e::platforms::Microservices;

#[derive(Clone, Default)]
struct Collector {
    spans: Arc<Mutex<Vec<Span>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.spans.lock().unwrap();
        for rs in request.into_inner().resource_spans {
            for ss in rs.scope_spans {
                spans.extend(ss.spans);
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

fn attr(span: &Span, key: &str) -> Option<String> {
    span.attributes.iter().find(|a| a.key == key).and_then(|a| {
        match a.value.as_ref()?.value.as_ref()? {
            AnyValue::StringValue(s) => Some(s.clone()),
            AnyValue::IntValue(i) => Some(i.to_string()),
            _ => None,
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_trace_follows_a_completion_through_every_service() {
    let collector = Collector::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = lyceum_server::grpc_router(tonic::service::Routes::new(TraceServiceServer::new(
        collector.clone(),
    )));
    tokio::spawn(async move { axum::serve(listener, router).await });

    let mut telemetry = lyceum_telemetry::init_with_endpoint(
        "lyceum-e2e",
        &Default::default(),
        Some(format!("http://{addr}")),
    );

    let Some(platform) = Microservices::start().await.expect("platform") else {
        return;
    };
    journey::run(&platform.http, &platform.creds)
        .await
        .expect("journey");
    // Let the last consumers finish, then flush every span.
    tokio::time::sleep(Duration::from_millis(500)).await;
    platform.stop().await.expect("stop");
    telemetry.shutdown();

    let spans = collector.spans.lock().unwrap().clone();
    assert!(!spans.is_empty(), "spans were exported");
    let by_id = |id: &[u8]| spans.iter().find(|s| s.span_id == id);
    let children = |parent: &Span, name: &str| -> Vec<Span> {
        spans
            .iter()
            .filter(|s| {
                s.parent_span_id == parent.span_id
                    && s.trace_id == parent.trace_id
                    && s.name == name
            })
            .cloned()
            .collect()
    };

    // The gateway's span for the completion that finished the course.
    let completions: Vec<&Span> = spans
        .iter()
        .filter(|s| {
            s.name.starts_with("POST /api/v1/enrollments/") && s.name.ends_with("/complete")
        })
        .collect();
    assert_eq!(completions.len(), 2, "two item completions in the journey");
    let mut followed = 0;
    for gateway in completions {
        assert!(
            gateway.parent_span_id.is_empty() || by_id(&gateway.parent_span_id).is_none(),
            "the request starts the trace"
        );
        let lms = children(gateway, "/lyceum.lms.v1.EnrollmentService/CompleteItem");
        assert_eq!(
            lms.len(),
            1,
            "the LMS call is a child of the gateway request"
        );
        let published = children(&lms[0], "outbox.publish");
        let submits: Vec<&Span> = published
            .iter()
            .filter(|s| attr(s, "subject").as_deref() == Some("lyceum.xapi.submit"))
            .collect();
        assert!(
            !submits.is_empty(),
            "the LMS outbox publishes its statements under the request"
        );
        for submit in submits {
            let stored = children(submit, "consume");
            let lrs = stored
                .iter()
                .find(|s| attr(s, "consumer").as_deref() == Some("lrs-submit"))
                .expect("the LRS consumer continues the trace");
            let republished = children(lrs, "outbox.publish");
            let announce = republished
                .iter()
                .find(|s| attr(s, "subject").as_deref() == Some("lyceum.lrs.statement.stored"))
                .expect("the LRS outbox publishes statement.stored in the same trace");
            let lxp = children(announce, "consume");
            assert!(
                lxp.iter()
                    .any(|s| attr(s, "consumer").as_deref() == Some("lxp-profile")),
                "the LXP profile consumer continues the trace"
            );
            followed += 1;
        }
    }
    assert!(
        followed >= 3,
        "two item statements and the course statement were followed: {followed}"
    );
}
