//! The NATS services protocol (what `nats micro` reads) for one worker: `$SRV.PING`,
//! `$SRV.INFO` and `$SRV.STATS`, addressed to every service, to this service's name, or to
//! this instance, answered from the worker's own counts.
//!
//! The worker counts for itself rather than through async-nats's `Service`: that one counts
//! only replies sent through its own requests, on the connection that the worker drains when
//! it stops (replies must keep going out meanwhile), and its error replies carry no body (the
//! error object would be lost). The answers are async-nats's own types, so their JSON is the
//! protocol's.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use async_nats::service::endpoint;
use async_nats::service::error::Error as ServiceError;
use async_nats::service::{Info, PingResponse, Stats};
use futures_util::StreamExt;
use time::OffsetDateTime;

/// One worker's identity as the protocol reports it, and its endpoints' counts.
pub(crate) struct Service {
    pub(crate) name: String,
    pub(crate) id: String,
    pub(crate) version: String,
    pub(crate) description: String,
    pub(crate) metadata: HashMap<String, String>,
    pub(crate) queue_group: String,
    pub(crate) started: OffsetDateTime,
    pub(crate) endpoints: Vec<Endpoint>,
}

/// One function's endpoint: its name (`[A-Za-z0-9_-]`), subject, metadata and counts.
pub(crate) struct Endpoint {
    pub(crate) name: String,
    pub(crate) subject: String,
    pub(crate) metadata: HashMap<String, String>,
    counts: Mutex<Counts>,
}

#[derive(Default)]
struct Counts {
    requests: usize,
    errors: usize,
    processing_time: Duration,
    last_error: Option<ServiceError>,
}

impl Endpoint {
    pub(crate) fn new(name: String, subject: String, metadata: HashMap<String, String>) -> Self {
        Endpoint { name, subject, metadata, counts: Mutex::default() }
    }

    /// Counts one answered request that took `took` from its arrival to its answer; an error
    /// answer with its status and message.
    pub(crate) fn record(&self, took: Duration, error: Option<(u16, &str)>) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        counts.requests += 1;
        counts.processing_time += took;
        if let Some((status, message)) = error {
            counts.errors += 1;
            counts.last_error = Some(ServiceError { code: usize::from(status), status: message.to_owned() });
        }
    }

    fn stats(&self, queue_group: &str) -> endpoint::Stats {
        let counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let average_processing_time = match u32::try_from(counts.requests) {
            Ok(0) | Err(_) => Duration::ZERO,
            Ok(requests) => counts.processing_time / requests,
        };
        endpoint::Stats {
            name: self.name.clone(),
            subject: self.subject.clone(),
            queue_group: queue_group.to_owned(),
            requests: counts.requests,
            errors: counts.errors,
            processing_time: counts.processing_time,
            average_processing_time,
            last_error: counts.last_error.clone(),
            data: None,
        }
    }
}

/// The three verbs a worker answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    Ping,
    Info,
    Stats,
}

const VERBS: [(Verb, &str); 3] = [(Verb::Ping, "PING"), (Verb::Info, "INFO"), (Verb::Stats, "STATS")];

impl Service {
    /// The subjects this instance answers on, each with its verb: `$SRV.<VERB>`,
    /// `$SRV.<VERB>.<name>` and `$SRV.<VERB>.<name>.<id>`.
    fn subjects(&self) -> Vec<(Verb, String)> {
        VERBS
            .iter()
            .flat_map(|&(verb, word)| {
                [
                    format!("$SRV.{word}"),
                    format!("$SRV.{word}.{}", self.name),
                    format!("$SRV.{word}.{}.{}", self.name, self.id),
                ]
                .map(|subject| (verb, subject))
            })
            .collect()
    }

    /// The answer to `verb`, as the protocol's JSON.
    fn answer(&self, verb: Verb) -> Vec<u8> {
        let encoded = match verb {
            Verb::Ping => serde_json::to_vec(&PingResponse {
                kind: "io.nats.micro.v1.ping_response".into(),
                name: self.name.clone(),
                id: self.id.clone(),
                version: self.version.clone(),
                metadata: self.metadata.clone(),
            }),
            Verb::Info => serde_json::to_vec(&Info {
                kind: "io.nats.micro.v1.info_response".into(),
                name: self.name.clone(),
                id: self.id.clone(),
                description: self.description.clone(),
                version: self.version.clone(),
                metadata: self.metadata.clone(),
                endpoints: self
                    .endpoints
                    .iter()
                    .map(|endpoint| endpoint::Info {
                        name: endpoint.name.clone(),
                        subject: endpoint.subject.clone(),
                        queue_group: self.queue_group.clone(),
                        metadata: endpoint.metadata.clone(),
                    })
                    .collect(),
            }),
            Verb::Stats => serde_json::to_vec(&Stats {
                kind: "io.nats.micro.v1.stats_response".into(),
                name: self.name.clone(),
                id: self.id.clone(),
                version: self.version.clone(),
                started: self.started,
                endpoints: self.endpoints.iter().map(|endpoint| endpoint.stats(&self.queue_group)).collect(),
            }),
        };
        // The protocol's own types always encode.
        encoded.unwrap_or_default()
    }
}

/// Subscribes to the discovery subjects on `serving` (so that draining it ends them too) and
/// answers them on `replying` until the subscriptions end.
pub(crate) async fn answer_discovery(
    service: std::sync::Arc<Service>,
    serving: &async_nats::Client,
    replying: async_nats::Client,
) -> Result<impl Future<Output = ()> + Send + 'static, async_nats::SubscribeError> {
    let mut streams = Vec::new();
    for (verb, subject) in service.subjects() {
        let subscriber = serving.subscribe(subject).await?;
        streams.push(subscriber.map(move |message| (verb, message)).boxed());
    }
    let mut requests = futures_util::stream::select_all(streams);
    Ok(async move {
        while let Some((verb, message)) = requests.next().await {
            if let Some(reply) = message.reply {
                let _ = replying.publish(reply, service.answer(verb).into()).await;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service() -> Service {
        Service {
            name: "svc".into(),
            id: "ID1".into(),
            version: "1.0.0".into(),
            description: "d".into(),
            metadata: HashMap::new(),
            queue_group: "q".into(),
            started: OffsetDateTime::UNIX_EPOCH,
            endpoints: vec![Endpoint::new("add".into(), "rpc.add".into(), HashMap::new())],
        }
    }

    #[test]
    fn stats_count_requests_errors_time_and_the_last_error() {
        let service = service();
        service.endpoints[0].record(Duration::from_millis(3), None);
        service.endpoints[0].record(Duration::from_millis(5), Some((422, "bad arguments")));
        let stats: serde_json::Value = serde_json::from_slice(&service.answer(Verb::Stats)).unwrap();
        assert_eq!(stats["type"], "io.nats.micro.v1.stats_response");
        let add = &stats["endpoints"][0];
        assert_eq!(add["num_requests"], 2);
        assert_eq!(add["num_errors"], 1);
        assert_eq!(add["processing_time"], 8_000_000);
        assert_eq!(add["average_processing_time"], 4_000_000);
        assert_eq!(add["last_error"], "422:bad arguments");
        assert_eq!(add["queue_group"], "q");
    }

    #[test]
    fn every_verb_on_three_subjects() {
        let subjects: Vec<String> = service().subjects().into_iter().map(|(_, subject)| subject).collect();
        assert_eq!(subjects.len(), 9);
        assert!(subjects.contains(&"$SRV.PING".to_owned()));
        assert!(subjects.contains(&"$SRV.INFO.svc".to_owned()));
        assert!(subjects.contains(&"$SRV.STATS.svc.ID1".to_owned()));
        let ping: serde_json::Value = serde_json::from_slice(&service().answer(Verb::Ping)).unwrap();
        assert_eq!(ping["type"], "io.nats.micro.v1.ping_response");
        assert_eq!(ping["id"], "ID1");
    }
}
