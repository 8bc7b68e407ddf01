//! The NATS JetStream bus: one stream over `lyceum.>`, durable pull consumers, explicit acks,
//! `Nats-Msg-Id` de-duplication. Works with NATS server 2.9 and newer (single-filter consumers).

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull, stream};
use futures_util::{FutureExt, StreamExt};
use lyceum_proto::events::v1::Envelope;
use prost::Message;
use tokio::sync::OnceCell;

use crate::{Acker, BusError, ConsumerSpec, Delivery, OutgoingEvent};

/// Where and how to reach NATS.
#[derive(Debug, Clone)]
pub struct NatsSettings {
    /// Server URL(s), comma-separated, e.g. `nats://127.0.0.1:4222`.
    pub url: String,
    /// Client name shown by the server (`lyceum-lms` ...).
    pub client_name: String,
    /// Stream name.
    pub stream: String,
    /// How long the stream keeps events.
    pub max_age: Duration,
    /// Storage of the stream: file (durable) or memory (tests).
    pub file_storage: bool,
}

impl NatsSettings {
    /// Defaults for a URL: stream `LYCEUM`, 7 days retention, file storage.
    pub fn new(url: impl Into<String>, client_name: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            client_name: client_name.into(),
            stream: "LYCEUM".into(),
            max_age: Duration::from_secs(7 * 24 * 3600),
            file_storage: true,
        }
    }
}

/// A JetStream-backed bus. Cheap to clone.
#[derive(Clone)]
pub struct NatsBus {
    client: async_nats::Client,
    js: jetstream::Context,
    settings: Arc<NatsSettings>,
    stream: Arc<OnceCell<stream::Stream>>,
}

impl std::fmt::Debug for NatsBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsBus")
            .field("url", &self.settings.url)
            .field("stream", &self.settings.stream)
            .finish()
    }
}

impl NatsBus {
    /// Connects. Returns at once even when the server is down: the client keeps reconnecting,
    /// publishes fail until it is back (so events wait in the outbox), and consumers rebind.
    pub async fn connect(settings: NatsSettings) -> Result<Self, BusError> {
        let client = async_nats::ConnectOptions::new()
            .name(&settings.client_name)
            .retry_on_initial_connect()
            .connection_timeout(Duration::from_secs(3))
            .reconnect_delay_callback(|attempt| {
                Duration::from_millis(100u64.saturating_mul(1 << attempt.min(5)).min(2_000))
            })
            .connect(settings.url.as_str())
            .await
            .map_err(|e| BusError::Connect(e.to_string()))?;
        let mut js = jetstream::new(client.clone());
        js.set_timeout(Duration::from_secs(5));
        Ok(Self {
            client,
            js,
            settings: Arc::new(settings),
            stream: Arc::new(OnceCell::new()),
        })
    }

    async fn stream(&self) -> Result<&stream::Stream, BusError> {
        self.stream
            .get_or_try_init(|| async {
                let s = &self.settings;
                self.js
                    .get_or_create_stream(stream::Config {
                        name: s.stream.clone(),
                        subjects: vec!["lyceum.>".into()],
                        storage: if s.file_storage {
                            stream::StorageType::File
                        } else {
                            stream::StorageType::Memory
                        },
                        retention: stream::RetentionPolicy::Limits,
                        max_age: s.max_age,
                        duplicate_window: Duration::from_secs(120),
                        ..Default::default()
                    })
                    .await
                    .map_err(|e| BusError::Subscribe(format!("stream {}: {e}", s.stream)))
            })
            .await
    }

    pub(crate) async fn publish(&self, events: &[OutgoingEvent]) -> Result<(), BusError> {
        if events.is_empty() {
            return Ok(());
        }
        self.stream().await?;
        let mut acks = Vec::with_capacity(events.len());
        for event in events {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert(
                async_nats::header::NATS_MESSAGE_ID,
                event.id.to_string().as_str(),
            );
            for (k, v) in &event.headers {
                headers.insert(k.as_str(), v.as_str());
            }
            let ack = self
                .js
                .publish_with_headers(event.subject.clone(), headers, event.envelope.clone())
                .await
                .map_err(|e| BusError::Publish(e.to_string()))?;
            acks.push(ack);
        }
        for ack in acks {
            ack.await.map_err(|e| BusError::Publish(e.to_string()))?;
        }
        Ok(())
    }

    pub(crate) async fn subscribe(
        &self,
        spec: &ConsumerSpec,
    ) -> Result<NatsSubscription, BusError> {
        let stream = self.stream().await?;
        let consumer: jetstream::consumer::Consumer<pull::Config> = stream
            .get_or_create_consumer(
                &spec.durable,
                pull::Config {
                    durable_name: Some(spec.durable.clone()),
                    filter_subject: spec.filter.clone(),
                    ack_policy: jetstream::consumer::AckPolicy::Explicit,
                    deliver_policy: jetstream::consumer::DeliverPolicy::All,
                    ack_wait: spec.ack_wait,
                    max_deliver: spec.max_deliver,
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| BusError::Subscribe(format!("consumer {}: {e}", spec.durable)))?;
        let messages = consumer
            .stream()
            .max_messages_per_batch(500)
            .heartbeat(Duration::from_secs(5))
            .expires(Duration::from_secs(30))
            .messages()
            .await
            .map_err(|e| BusError::Subscribe(format!("consumer {}: {e}", spec.durable)))?;
        Ok(NatsSubscription {
            durable: spec.durable.clone(),
            messages,
        })
    }

    pub(crate) async fn consumer_lag(&self, durable: &str) -> Option<u64> {
        let stream = self.stream().await.ok()?;
        let info = stream.consumer_info(durable).await.ok()?;
        Some(info.num_pending + info.num_ack_pending as u64)
    }

    pub(crate) async fn is_ready(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    /// The underlying client (for tests and tools).
    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }
}

/// A bound JetStream pull consumer.
pub struct NatsSubscription {
    durable: String,
    messages: pull::Stream,
}

impl std::fmt::Debug for NatsSubscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsSubscription")
            .field("durable", &self.durable)
            .finish()
    }
}

impl NatsSubscription {
    pub(crate) async fn next_batch(&mut self, max: usize) -> Result<Vec<Delivery>, BusError> {
        let mut out = Vec::new();
        while out.is_empty() {
            match self.messages.next().await {
                None => return Err(BusError::Closed),
                Some(Err(e)) => {
                    // Missed heartbeats and server restarts surface here; the stream retries.
                    tracing::debug!(consumer = %self.durable, error = %e, "pull consumer");
                    continue;
                }
                Some(Ok(m)) => self.push(m, &mut out).await,
            }
            while out.len() < max {
                match self.messages.next().now_or_never() {
                    Some(Some(Ok(m))) => self.push(m, &mut out).await,
                    _ => break,
                }
            }
        }
        Ok(out)
    }

    async fn push(&self, m: jetstream::Message, out: &mut Vec<Delivery>) {
        let envelope = match Envelope::decode(m.payload.clone()) {
            Ok(e) => e,
            Err(e) => {
                tracing::error!(consumer = %self.durable, subject = %m.subject, error = %e,
                    "terminating an event whose envelope does not decode");
                let _ = m.ack_with(jetstream::AckKind::Term).await;
                return;
            }
        };
        let attempt = m.info().map(|i| i.delivered.max(1) as u64).unwrap_or(1);
        let headers = m
            .headers
            .as_ref()
            .map(|h| {
                h.iter()
                    .filter(|(k, _)| !AsRef::<str>::as_ref(*k).eq_ignore_ascii_case("Nats-Msg-Id"))
                    .filter_map(|(k, v)| v.first().map(|v| (k.to_string(), v.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        out.push(Delivery {
            subject: m.subject.to_string(),
            envelope,
            headers,
            attempt,
            acker: Acker::Nats(Box::new(m)),
        });
    }
}
