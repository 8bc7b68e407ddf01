//! Clients of the services behind the gateway.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use lyceum_config::GatewayConfig;
use lyceum_proto::lms::v1::course_service_client::CourseServiceClient;
use lyceum_proto::lms::v1::enrollment_service_client::EnrollmentServiceClient;
use lyceum_proto::lms::v1::people_service_client::PeopleServiceClient;
use lyceum_proto::lrs::v1::xapi_client_service_client::XapiClientServiceClient;
use lyceum_proto::lxp::v1::catalog_service_client::CatalogServiceClient;
use lyceum_proto::lxp::v1::feed_service_client::FeedServiceClient;
use lyceum_server::Check;
use tonic::transport::Channel;

/// gRPC clients of the LMS, LXP and LRS, and an HTTP client for the LRS's xAPI.
pub(crate) struct Upstreams {
    pub people: PeopleServiceClient<Channel>,
    pub courses: CourseServiceClient<Channel>,
    pub enrollments: EnrollmentServiceClient<Channel>,
    pub catalog: CatalogServiceClient<Channel>,
    pub feed: FeedServiceClient<Channel>,
    pub xapi_clients: XapiClientServiceClient<Channel>,
    pub http: Client<HttpConnector, Body>,
    pub lrs_base: String,
    lms_base: String,
    lxp_base: String,
}

impl Upstreams {
    pub fn connect(config: &GatewayConfig) -> Result<Self, tonic::transport::Error> {
        let lms = lyceum_server::channel(&config.lms_url)?;
        let lxp = lyceum_server::channel(&config.lxp_url)?;
        let lrs = lyceum_server::channel(&config.lrs_url)?;
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(3)));
        let http = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(connector);
        Ok(Self {
            people: PeopleServiceClient::new(lms.clone()),
            courses: CourseServiceClient::new(lms.clone()),
            enrollments: EnrollmentServiceClient::new(lms),
            catalog: CatalogServiceClient::new(lxp.clone()),
            feed: FeedServiceClient::new(lxp),
            xapi_clients: XapiClientServiceClient::new(lrs),
            http,
            lrs_base: config.lrs_url.trim_end_matches('/').to_string(),
            lms_base: config.lms_url.trim_end_matches('/').to_string(),
            lxp_base: config.lxp_url.trim_end_matches('/').to_string(),
        })
    }

    /// Readiness: every upstream answers its own `/healthz`.
    pub fn checks(&self) -> Vec<(&'static str, Check)> {
        [
            ("lms", &self.lms_base),
            ("lxp", &self.lxp_base),
            ("lrs", &self.lrs_base),
        ]
        .into_iter()
        .map(|(name, base)| {
            let client = self.http.clone();
            let url = format!("{base}/healthz");
            let check: Check = Arc::new(move || {
                let client = client.clone();
                let url = url.clone();
                Box::pin(async move {
                    let uri: http::Uri = url.parse().map_err(|e| format!("{url}: {e}"))?;
                    let resp = client.get(uri).await.map_err(|e| format!("{url}: {e}"))?;
                    if resp.status().is_success() {
                        Ok(())
                    } else {
                        Err(format!("{url}: {}", resp.status()))
                    }
                })
            });
            (name, check)
        })
        .collect()
    }
}
