//! The `aws` Target: the platform on AWS, or on any AWS-compatible endpoint.
//!
//! All `aws-sdk-*` use lives in this crate. Configuration is the AWS way: the default
//! credential chain, `AWS_PROFILE`, `AWS_REGION`, `AWS_ENDPOINT_URL` (and the per-service
//! `AWS_ENDPOINT_URL_<SERVICE>` forms). Resources are found by their deterministic names
//! (`<project>-...`), so no local state can be lost. Reads run concurrently; the SDK retries
//! throttling and 5xx answers with backoff (standard retry mode, up to 5 attempts).

mod accounts;
mod apply;
pub mod athena;
mod cost;
mod emulator;
mod error;
mod read;
pub use read::inventory_read_actions;
mod resources;
pub mod securityhub;
mod session;
mod store;

pub use accounts::Account;
pub use session::PSEUDONYMISATION_KEY_OBJECT;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use dapgov_inventory::{Arns, BILLING_REGION, Inventory, Names};
use dapgov_target::{ChangeRequest, RoleSession, Target, TargetError, TargetResult};
use tokio::sync::OnceCell;

pub use error::describe;

/// One client per service; `cloudwatch_billing` is pinned to us-east-1.
#[derive(Clone)]
pub struct Clients {
    pub s3: aws_sdk_s3::Client,
    pub s3control: aws_sdk_s3control::Client,
    pub kms: aws_sdk_kms::Client,
    pub iam: aws_sdk_iam::Client,
    pub sts: aws_sdk_sts::Client,
    pub cloudtrail: aws_sdk_cloudtrail::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub cloudwatch_billing: aws_sdk_cloudwatch::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub sns: aws_sdk_sns::Client,
    pub budgets: aws_sdk_budgets::Client,
    pub glue: aws_sdk_glue::Client,
    pub athena: aws_sdk_athena::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub events: aws_sdk_eventbridge::Client,
    pub scheduler: aws_sdk_scheduler::Client,
}

impl Clients {
    /// Clients from one shared SDK configuration.
    pub fn from_conf(conf: &aws_types::SdkConfig) -> Self {
        // Emulators and most S3-compatible stores serve path-style URLs only.
        let custom_endpoint =
            conf.endpoint_url().is_some() || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
        let s3 = aws_sdk_s3::config::Builder::from(conf)
            .force_path_style(custom_endpoint)
            .build();
        let billing = aws_sdk_cloudwatch::config::Builder::from(conf)
            .region(aws_types::region::Region::new(BILLING_REGION))
            .build();
        Clients {
            s3: aws_sdk_s3::Client::from_conf(s3),
            s3control: s3control(conf),
            kms: aws_sdk_kms::Client::new(conf),
            iam: aws_sdk_iam::Client::new(conf),
            sts: aws_sdk_sts::Client::new(conf),
            cloudtrail: aws_sdk_cloudtrail::Client::new(conf),
            cloudwatch: aws_sdk_cloudwatch::Client::new(conf),
            cloudwatch_billing: aws_sdk_cloudwatch::Client::from_conf(billing),
            logs: aws_sdk_cloudwatchlogs::Client::new(conf),
            sns: aws_sdk_sns::Client::new(conf),
            budgets: aws_sdk_budgets::Client::new(conf),
            glue: aws_sdk_glue::Client::new(conf),
            athena: aws_sdk_athena::Client::new(conf),
            sqs: aws_sdk_sqs::Client::new(conf),
            lambda: aws_sdk_lambda::Client::new(conf),
            events: aws_sdk_eventbridge::Client::new(conf),
            scheduler: aws_sdk_scheduler::Client::new(conf),
        }
    }
}

/// S3 Control, reaching an endpoint override without the account-id host label.
fn s3control(conf: &aws_types::SdkConfig) -> aws_sdk_s3control::Client {
    let endpoint = std::env::var("AWS_ENDPOINT_URL_S3_CONTROL")
        .ok()
        .or_else(|| conf.endpoint_url().map(str::to_string));
    let mut b = aws_sdk_s3control::config::Builder::from(conf);
    if let Some(authority) = endpoint
        .as_deref()
        .and_then(|e| e.split_once("://"))
        .map(|(_, rest)| rest.trim_end_matches('/').to_string())
    {
        b = b.interceptor(emulator::AccountHostPrefix { authority });
    }
    aws_sdk_s3control::Client::from_conf(b.build())
}

pub struct AwsTarget {
    pub(crate) clients: Clients,
    pub(crate) region: String,
    /// The loaded configuration, from which role sessions are derived (absent for mocked clients).
    pub(crate) conf: Option<aws_types::SdkConfig>,
    account: OnceCell<String>,
}

impl AwsTarget {
    /// Whether requests go to an endpoint other than AWS's (`AWS_ENDPOINT_URL`): an emulator
    /// or an AWS-compatible service, which may accept a setting it does not keep. Such a
    /// setting read back absent there is reported unreadable, not drift (docs/aws-emulators.md
    /// lists them).
    pub(crate) fn custom_endpoint(&self) -> bool {
        self.conf
            .as_ref()
            .is_some_and(|c| c.endpoint_url().is_some())
    }

    /// Load the standard AWS configuration (credentials, endpoints, retries) and connect in the
    /// spec's region. Like a Terraform provider's `region` argument, it beats
    /// the environment's (`AWS_REGION`, the profile's): a platform that must stay in one
    /// region never gets half its resources made elsewhere because of a shell setting.
    pub async fn connect(region: &str) -> Self {
        if let Some(environment) = aws_config::meta::region::RegionProviderChain::default_provider()
            .region()
            .await
            .filter(|r| r.as_ref() != region)
        {
            tracing::warn!(
                "the environment's region {environment} differs from the spec's platform.region {region}; dapgov works in {region}"
            );
        }
        let conf = aws_config::defaults(BehaviorVersion::latest())
            .region(aws_types::region::Region::new(region.to_string()))
            .retry_config(RetryConfig::standard().with_max_attempts(5))
            .load()
            .await;
        let mut target = Self::with_clients(Clients::from_conf(&conf), region);
        target.conf = Some(conf);
        target
    }

    /// A target over given clients (tests use mocked ones).
    pub fn with_clients(clients: Clients, region: &str) -> Self {
        AwsTarget {
            clients,
            region: region.to_string(),
            conf: None,
            account: OnceCell::new(),
        }
    }

    /// ARNs in this target's account and region.
    pub(crate) async fn arns(&self) -> TargetResult<Arns> {
        Ok(Arns::new(&self.account().await?, &self.region))
    }

    /// The project's names in this target's account and region.
    pub(crate) async fn names(&self, project: &str) -> TargetResult<Names> {
        Ok(Names::new(project, &self.account().await?, &self.region))
    }

    pub(crate) async fn account(&self) -> TargetResult<String> {
        self.account
            .get_or_try_init(|| async {
                let me = self
                    .clients
                    .sts
                    .get_caller_identity()
                    .send()
                    .await
                    .map_err(|e| error::sdk("sts:GetCallerIdentity", "the caller", e))?;
                me.account().map(str::to_string).ok_or_else(|| {
                    TargetError::Other("sts:GetCallerIdentity returned no account".into())
                })
            })
            .await
            .cloned()
    }
}

#[async_trait::async_trait]
impl Target for AwsTarget {
    async fn cost(
        &self,
        project: &str,
        months: u32,
        by: dapgov_target::CostGrouping,
    ) -> TargetResult<dapgov_target::CostReport> {
        cost::report(
            &cost::client(self)?,
            project,
            months,
            by,
            chrono::Utc::now().date_naive(),
        )
        .await
    }

    async fn account_id(&self) -> TargetResult<String> {
        self.account().await
    }

    async fn read_inventory(&self, project: &str) -> TargetResult<Inventory> {
        read::inventory(self, project).await
    }

    async fn apply(&self, change: &ChangeRequest) -> TargetResult<()> {
        apply::change(self, change).await
    }

    async fn session(&self, project: &str, role: &str) -> TargetResult<RoleSession> {
        session::session(self, project, role).await
    }
}
