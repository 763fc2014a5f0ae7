//! dapgov as the platform's Lambda function: the events it is sent (a delivery landed, as
//! EventBridge reports S3's "Object Created"; a schedule fired, as EventBridge Scheduler sends
//! `{"dapgov_job": …}`) handled by the same code as `etl run --delivery` and `serve`'s jobs,
//! as the role the function runs as. `lambda invoke` handles one event from a file: a
//! fixture in tests, or a message from the dead-letter queue replayed by hand.

use crate::ops::{Context, Loaded};
use anyhow::Context as _;
use dapgov_spec::automation::Job;
use serde_json::{Value, json};
use std::path::PathBuf;

#[derive(clap::Subcommand)]
pub enum LambdaCommand {
    /// Handle one event (JSON) and print the outcome as one line of JSON, last.
    Invoke {
        /// The event as Lambda receives it.
        #[arg(long)]
        event: PathBuf,
    },
    /// Serve the Lambda runtime API (what the function's bootstrap runs).
    #[command(hide = true)]
    Run,
}

/// What the function is asked to do.
#[derive(Debug, PartialEq)]
pub enum Event {
    /// An object was created in a bucket.
    ObjectCreated {
        bucket: String,
        key: String,
        size: Option<u64>,
    },
    /// A schedule fired.
    Scheduled(Job),
}

impl Event {
    pub fn parse(event: &Value) -> anyhow::Result<Event> {
        if let Some(job) = event.get("dapgov_job") {
            let name = job.as_str().unwrap_or_default();
            let job = Job::parse(name).ok_or_else(|| {
                anyhow::anyhow!(
                    "unknown job {job}; the schedules send one of {}",
                    Job::ALL.map(Job::as_str).join(", ")
                )
            })?;
            return Ok(Event::Scheduled(job));
        }
        if event["source"] == "aws.s3" && event["detail-type"] == "Object Created" {
            let detail = &event["detail"];
            let text = |v: &Value, what: &str| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| anyhow::anyhow!("the Object Created event has no {what}"))
            };
            return Ok(Event::ObjectCreated {
                bucket: text(&detail["bucket"]["name"], "detail.bucket.name")?,
                // S3 reports keys URL-encoded in notifications, not in EventBridge events.
                key: text(&detail["object"]["key"], "detail.object.key")?,
                size: detail["object"]["size"].as_u64(),
            });
        }
        anyhow::bail!(
            "not an event dapgov handles: an EventBridge `Object Created` from aws.s3, or a schedule's {{\"dapgov_job\": …}} (got source {} and detail-type {})",
            event["source"],
            event["detail-type"]
        )
    }
}

pub async fn run(ctx: &Context, cmd: LambdaCommand) -> anyhow::Result<u8> {
    let l = ctx.open(false).await?;
    match cmd {
        LambdaCommand::Invoke { event } => {
            let text = std::fs::read_to_string(&event)
                .with_context(|| format!("reading {}", event.display()))?;
            let event: Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not JSON", event.display()))?;
            let outcome = handle(ctx, &l, &event).await?;
            // One line, last: what the job printed on the way comes before it.
            println!("{}", serde_json::to_string(&outcome)?);
            Ok(u8::from(outcome["status"] == "failed"))
        }
        LambdaCommand::Run => {
            let l = &l;
            lambda_runtime::run(lambda_runtime::service_fn(
                move |e: lambda_runtime::LambdaEvent<Value>| async move {
                    // An error makes Lambda retry, then send the event to the dead-letter queue.
                    handle(ctx, l, &e.payload)
                        .await
                        .map_err(|e| lambda_runtime::Error::from(format!("{e:#}")))
                },
            ))
            .await
            .map_err(|e| anyhow::anyhow!("the Lambda runtime stopped: {e}"))?;
            Ok(0)
        }
    }
}

/// Handle one event as the etl role. A delivery that fails to load is an error (so Lambda
/// retries it and then dead-letters it); one already loaded is a success.
pub async fn handle(ctx: &Context, l: &Loaded, event: &Value) -> anyhow::Result<Value> {
    use dapgov_etl::landing::Outcome;
    let session = l.target.session(&l.spec.platform.name, "etl").await?;
    match Event::parse(event)? {
        Event::Scheduled(job) => {
            let reports = std::env::temp_dir().join("dapgov-reports");
            super::serve::run_job(ctx, l, &session, job, &reports).await?;
            Ok(json!({"status": "ran", "job": job.as_str()}))
        }
        Event::ObjectCreated { bucket, key, size } => {
            let landing = session.names.bucket("landing");
            anyhow::ensure!(
                bucket == landing,
                "the event names bucket {bucket}, not this platform's landing bucket {landing}: the rule's pattern should have filtered it"
            );
            let Some(dataset) = dapgov_etl::landing::dataset_of(&l.spec, &key) else {
                return Ok(json!({"status": "ignored", "key": key,
                    "why": "no dataset of the spec is delivered under this key's first segment"}));
            };
            if let Some(why) = size.and_then(|b| l.spec.automation.function.refuses(&key, b)) {
                anyhow::bail!(why);
            }
            let object = dapgov_etl::landing::object(&session, &key).await?;
            let mut taken = dapgov_etl::landing::loaded_inputs(&session, dataset).await?;
            let progress = |msg: &str| tracing::info!("{key}: {msg}");
            match dapgov_etl::landing::load_delivery(
                &session, &l.spec, dataset, &object, false, &mut taken, &progress,
            )
            .await?
            {
                Outcome::Loaded(m) => Ok(json!({"status": "loaded", "dataset": dataset,
                    "key": key, "run_id": m.run_id, "rows": m.load.rows_added,
                    "curated_version": m.load.curated_version})),
                Outcome::AlreadyTaken { sha256 } => Ok(json!({"status": "already_loaded",
                    "dataset": dataset, "key": key, "sha256": sha256})),
                Outcome::Failed(e) => {
                    Err(anyhow::Error::new(e).context(format!("loading {key} into {dataset}")))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_told_apart_and_others_refused_by_what_they_are() {
        let created = json!({"version": "0", "detail-type": "Object Created", "source": "aws.s3",
            "detail": {"bucket": {"name": "van311-landing-1"}, "object": {"key": "calls/a b.csv", "size": 5}}});
        assert_eq!(
            Event::parse(&created).unwrap(),
            Event::ObjectCreated {
                bucket: "van311-landing-1".into(),
                key: "calls/a b.csv".into(),
                size: Some(5)
            }
        );
        assert_eq!(
            Event::parse(&json!({"dapgov_job": "maintain"})).unwrap(),
            Event::Scheduled(Job::Maintain)
        );
        let e = Event::parse(&json!({"dapgov_job": "reboot"}))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("landing_sweep, maintain, audit, kpi_report"),
            "{e}"
        );
        let e = Event::parse(&json!({"source": "aws.ec2", "detail-type": "x"}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("aws.ec2"), "{e}");
    }
}
