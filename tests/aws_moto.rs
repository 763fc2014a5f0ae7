//! The aws target against a real AWS API emulator: moto in server mode, started once per
//! test binary on a free loopback port. Each test uses its own project name, so tests run in
//! parallel on one server. `scripts/test` installs moto as `scripts/python/test.lock` pins it
//! (`tests/common/moto.rs` says where).

mod common;

use common::moto::{endpoint, venv};
use common::{assert_fails_with, dapgov, repo, succeeded};
use std::process::{Command, Output};

struct Project {
    dir: tempfile::TempDir,
    name: String,
}

impl Project {
    fn new() -> Self {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Project::named(&format!("t{:05x}{n}", std::process::id() & 0xfffff))
    }

    fn named(name: &str) -> Self {
        let p = Project {
            dir: tempfile::tempdir().unwrap(),
            name: name.into(),
        };
        p.ok(&["init", "--target", "aws", "--name", &p.name]);
        p
    }

    /// Applied, ready for the data stages. moto evaluates a bucket policy's Deny statements
    /// without their conditions (a documented limit), so the guards on TLS and on the KMS key
    /// would refuse every object request: they are lifted from the data zones (tests check the
    /// objects' keys instead).
    fn applied_for_data() -> Self {
        Project::new().apply_for_data()
    }

    fn apply_for_data(self) -> Self {
        self.ok(&["apply", "--auto-approve"]);
        self.boto3("for zone in ('landing', 'raw', 'curated', 'trusted'):\n    c('s3').delete_bucket_policy(Bucket=f'{p}-{zone}-{acct}')");
        self
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_in_region("ca-central-1", args)
    }

    /// With another account's credentials (`key id`, `secret`, `session token`).
    fn run_as(&self, creds: &[String], args: &[&str]) -> Output {
        dapgov()
            .args(args)
            .current_dir(self.dir.path())
            .env("AWS_ENDPOINT_URL", endpoint())
            .env("AWS_ACCESS_KEY_ID", &creds[0])
            .env("AWS_SECRET_ACCESS_KEY", &creds[1])
            .env("AWS_SESSION_TOKEN", &creds[2])
            .env("AWS_REGION", "ca-central-1")
            .env_remove("AWS_PROFILE")
            .output()
            .unwrap()
    }

    /// With the environment's region set to `region` (the spec's is ca-central-1).
    fn run_in_region(&self, region: &str, args: &[&str]) -> Output {
        self.command_in_region(region, args).output().unwrap()
    }

    fn command_in_region(&self, region: &str, args: &[&str]) -> Command {
        let mut c = dapgov();
        c.args(args)
            .current_dir(self.dir.path())
            .env("AWS_ENDPOINT_URL", endpoint())
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", region)
            .env_remove("AWS_PROFILE");
        c
    }

    /// `dapgov ARGS`, which must exit with `code` and say `text` on stderr.
    fn fails_with(&self, args: &[&str], code: i32, text: &str) -> String {
        assert_fails_with(
            &mut self.command_in_region("ca-central-1", args),
            code,
            text,
        )
    }

    fn ok(&self, args: &[&str]) -> String {
        succeeded(self.run(args), &format!("dapgov {args:?}"))
    }

    /// Change the platform behind dapgov's back, with another client (boto3).
    fn boto3(&self, script: &str) {
        self.boto3_out(script);
    }

    /// As `boto3`, returning what the script prints.
    fn boto3_out(&self, script: &str) -> String {
        let program = format!(
            "import boto3\nc = lambda s: boto3.client(s, endpoint_url={e:?}, region_name='ca-central-1', aws_access_key_id='testing', aws_secret_access_key='testing')\np = {p:?}\nacct = '123456789012'\n{script}",
            e = endpoint(),
            p = self.name
        );
        let o = Command::new(venv().join("bin/python"))
            .arg("-c")
            .arg(program)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "boto3 script failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// `apply` repairs everything: the plan is then empty and the audit finds nothing.
    fn repair_and_expect_clean(&self) {
        self.ok(&["apply", "--auto-approve"]);
        assert_eq!(
            self.run(&["plan", "--detailed-exitcode"]).status.code(),
            Some(0)
        );
        assert_eq!(self.audit_failing(), (0, vec![]));
    }

    /// `audit`'s exit status and findings.
    fn audit(&self) -> (i32, Vec<serde_json::Value>) {
        let o = self.run(&["audit", "--format", "json"]);
        let a: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(self.dir.path().join("reports/audit.json")).unwrap(),
        )
        .unwrap();
        (
            o.status.code().unwrap_or(-1),
            a["findings"].as_array().unwrap().clone(),
        )
    }

    fn audit_failing(&self) -> (i32, Vec<String>) {
        let (code, findings) = self.audit();
        let mut f: Vec<String> = findings
            .iter()
            .filter(|f| f["status"] == "FAIL")
            .map(|f| {
                format!(
                    "{} {}",
                    f["check_id"].as_str().unwrap(),
                    f["resource"].as_str().unwrap().replace(&self.name, "P")
                )
            })
            .collect();
        f.sort();
        (code, f)
    }
}

#[test]
fn apply_on_an_empty_account_is_clean_audits_without_failures_and_destroy_keeps_data_unless_forced()
{
    let p = Project::new();
    let out = p.ok(&["apply", "--auto-approve"]);
    assert!(out.contains("Apply complete"), "{out}");
    let plan = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(
        plan.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&plan.stdout)
    );
    let (code, failing) = p.audit_failing();
    assert!(failing.is_empty(), "{failing:#?}");
    assert_eq!(code, 0);

    // The access-log bucket now holds the emulator's server access logs: kept unless forced.
    let o = p.run(&["destroy", "--auto-approve"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("bucket {}-logs-", p.name)) && err.contains("--force-delete-data"),
        "{err}"
    );
    let kept: serde_json::Value = serde_json::from_str(&p.ok(&["inventory"])).unwrap();
    assert!(
        kept["keys"].as_object().unwrap().is_empty()
            && kept["roles"].as_object().unwrap().is_empty(),
        "everything without data goes"
    );
    assert!(
        kept["buckets"]
            .as_object()
            .unwrap()
            .keys()
            .any(|b| b.contains("-logs-"))
    );

    p.ok(&["destroy", "--auto-approve", "--force-delete-data"]);
    let inv: serde_json::Value = serde_json::from_str(&p.ok(&["inventory"])).unwrap();
    for kind in [
        "buckets",
        "keys",
        "roles",
        "trails",
        "log_groups",
        "topics",
        "alarms",
        "budgets",
        "glue_databases",
        "glue_security_configurations",
        "athena_workgroups",
    ] {
        assert_eq!(
            inv[kind],
            serde_json::json!({}),
            "{kind} left after destroy"
        );
    }
}

/// A role and an empty bucket another team made with the platform's prefix: plan lists them
/// once as not managed, and neither apply nor destroy touches them.
#[test]
fn look_alikes_another_team_made_are_listed_and_never_deleted() {
    let p = Project::new();
    p.ok(&["apply", "--auto-approve"]);
    p.boto3(
        "import json\n\
         c('iam').create_role(RoleName=f'{p}-backup', AssumeRolePolicyDocument=json.dumps({'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow', 'Principal': {'Service': 'backup.amazonaws.com'}, 'Action': 'sts:AssumeRole'}]}))\n\
         c('s3').create_bucket(Bucket=f'{p}-other-team-data', CreateBucketConfiguration={'LocationConstraint': 'ca-central-1'})",
    );
    let plan = p.run(&["plan", "--detailed-exitcode"]);
    let out = String::from_utf8_lossy(&plan.stdout);
    assert_eq!(plan.status.code(), Some(0), "{out}");
    assert!(
        out.starts_with("Not managed by dapgov, left alone")
            && out.contains(&format!("role.{}-backup", p.name))
            && out.contains(&format!("bucket.{}-other-team-data", p.name)),
        "{out}"
    );
    let json: serde_json::Value = serde_json::from_str(&p.ok(&["plan", "--json"])).unwrap();
    assert_eq!(
        json["left_alone"].as_array().map(Vec::len),
        Some(2),
        "{json}"
    );
    p.ok(&["apply", "--auto-approve"]);
    let out = p.ok(&["destroy", "--auto-approve", "--force-delete-data"]);
    assert!(
        out.contains(&format!("role.{}-backup", p.name))
            && !out.contains(&format!("- role.{}-backup", p.name)),
        "{out}"
    );
    p.boto3("c('iam').get_role(RoleName=f'{p}-backup')\nc('s3').head_bucket(Bucket=f'{p}-other-team-data')");
}

/// Platforms whose names share a prefix (`P` and `P-ops`), and look-alikes another team made
/// (a bucket named like P's with a zone tag, a Glue database named like P's catalog): each
/// platform plans, loads, audits and destroys only its own, for every resource kind.
#[test]
fn platforms_sharing_a_name_prefix_never_touch_each_other() {
    let city = Project::new().apply_for_data();
    let ops = Project::named(&format!("{}-ops", city.name)).apply_for_data();
    city.boto3(
        "c('s3').create_bucket(Bucket=f'{p}-lookalike-{acct}', CreateBucketConfiguration={'LocationConstraint': 'ca-central-1'})\n\
         c('s3').put_bucket_tagging(Bucket=f'{p}-lookalike-{acct}', Tagging={'TagSet': [{'Key': 'zone', 'Value': 'landing'}, {'Key': 'project', 'Value': p}]})\n\
         c('glue').create_database(DatabaseInput={'Name': p + '_website'})",
    );
    // Each plan holds only its own lifted bucket policies: the other platform's resources are
    // neither drift nor deletes.
    let changes = |p: &Project| -> Vec<String> {
        let plan: serde_json::Value = serde_json::from_str(&p.ok(&["plan", "--json"])).unwrap();
        plan["resource_changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                format!(
                    "{} {}",
                    c["change"]["actions"],
                    c["address"].as_str().unwrap()
                )
            })
            .collect()
    };
    let ops_before = changes(&ops);
    let city_changes = changes(&city);
    for (p, mine) in [(&city, &city_changes), (&ops, &ops_before)] {
        assert_eq!(mine.len(), 4, "{}: {mine:?}", p.name);
        assert!(
            mine.iter().all(|c| c.starts_with("[\"update\"] bucket.")
                && c.contains(&format!("bucket.{}-", p.name))),
            "{}: {mine:?}",
            p.name
        );
    }
    assert!(
        !city_changes.iter().any(|c| c.contains(&ops.name)),
        "{city_changes:?}"
    );
    let plan: serde_json::Value = serde_json::from_str(&city.ok(&["plan", "--json"])).unwrap();
    let left_alone = plan["left_alone"].to_string();
    for look_alike in [
        format!("bucket.{}-lookalike-123456789012", city.name),
        format!("glue_database.{}_website", city.name),
    ] {
        assert!(left_alone.contains(&look_alike), "{left_alone}");
    }
    assert!(
        !left_alone.contains(&format!("bucket.{}-", ops.name)),
        "{left_alone}"
    );
    // City's load lands in city's zones only.
    let metrics = repo("data/3-1-1-contact-centre-metrics.csv");
    let load = [
        "etl",
        "run",
        "--input",
        metrics.to_str().unwrap(),
        "--dataset",
        "metrics",
    ];
    city.ok(&load);
    city.boto3(&format!(
        "s3 = c('s3')\n\
         objects = lambda b: [o['Key'] for o in s3.list_objects_v2(Bucket=b).get('Contents', [])]\n\
         for zone in ('landing', 'raw', 'curated', 'trusted'):\n\
         \x20   assert objects(f'{{p}}-{{zone}}-{{acct}}'), zone\n\
         \x20   assert not objects(f'{{p}}-ops-{{zone}}-{{acct}}'), ('written into the other platform', zone)\n\
         assert not objects(f'{{p}}-lookalike-{{acct}}')\n\
         tables = [t['Name'] for t in c('glue').get_tables(DatabaseName={ops:?})['TableList']]\n\
         assert not tables, tables",
        ops = format!("{}_catalog", ops.name.replace('-', "_"))
    ));
    // The other platform's own load is its own, not a no-op.
    let out = ops.ok(&load);
    assert!(!out.starts_with("No-op"), "{out}");
    // City's audit reads city's resources only.
    city.run(&["audit", "--format", "json"]);
    let audit = std::fs::read_to_string(city.dir.path().join("reports/audit.json")).unwrap();
    assert!(
        !audit.contains(&ops.name),
        "the audit read the other platform's resources"
    );
    assert!(!audit.contains("lookalike"), "the audit read a look-alike");
    // Destroying city leaves every resource of the other platform and the look-alikes.
    city.ok(&["destroy", "--auto-approve", "--force-delete-data"]);
    assert_eq!(
        changes(&ops),
        ops_before,
        "destroy removed some of the other platform"
    );
    city.boto3(
        "c('s3').head_bucket(Bucket=f'{p}-lookalike-{acct}')\n\
         c('glue').get_database(Name=p + '_website')",
    );
}

/// The spec's region wins over the environment's: nothing is planned in us-east-1 but the
/// billing alarm, which lives there by rule.
#[test]
fn the_specs_region_beats_the_environments() {
    let p = Project::new();
    let first = p.run_in_region("us-east-1", &["apply", "--auto-approve"]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(String::from_utf8_lossy(&first.stderr).contains(
        "the environment's region us-east-1 differs from the spec's platform.region ca-central-1"
    ));
    assert_eq!(
        p.run(&["plan", "--detailed-exitcode"]).status.code(),
        Some(0),
        "a plan in the spec's region sees everything apply made"
    );
    let inv: serde_json::Value = serde_json::from_str(&p.ok(&["inventory"])).unwrap();
    let alarm_regions: std::collections::BTreeSet<&str> = inv["alarms"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(|a| a["region"].as_str())
        .collect();
    assert_eq!(alarm_regions, ["ca-central-1", "us-east-1"].into());
    p.boto3("east = boto3.client('kms', endpoint_url=c('kms').meta.endpoint_url, region_name='us-east-1', aws_access_key_id='testing', aws_secret_access_key='testing')\nassert not east.list_aliases()['Aliases'] or not [a for a in east.list_aliases()['Aliases'] if p in a['AliasName']]");
}

#[test]
fn drift_made_behind_dapgovs_back_is_planned_exactly_fails_the_matching_checks_and_is_repaired() {
    let p = Project::new();
    p.ok(&["apply", "--auto-approve"]);
    p.boto3(
        "kms = c('kms')
key = [a['TargetKeyId'] for a in kms.list_aliases()['Aliases'] if a['AliasName'] == f'alias/{p}-pii'][0]
kms.disable_key_rotation(KeyId=key)
c('s3').delete_public_access_block(Bucket=f'{p}-raw-{acct}')
c('s3').delete_bucket_policy(Bucket=f'{p}-curated-{acct}')
c('cloudtrail').update_trail(Name=f'{p}-trail', EnableLogFileValidation=False)
c('iam').put_role_policy(RoleName=f'{p}-analyst', PolicyName='extra', PolicyDocument='{\"Version\": \"2012-10-17\", \"Statement\": [{\"Effect\": \"Allow\", \"Action\": \"s3:GetObject\", \"Resource\": \"arn:aws:s3:::' + p + '-raw-' + acct + '/*\"}]}')
",
    );
    let plan = p.run(&["plan", "--json", "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(2));
    let json: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    let mut changed: Vec<String> = json["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["address"].as_str().unwrap().replace(&p.name, "P"))
        .collect();
    changed.sort();
    assert_eq!(
        changed,
        [
            "bucket.P-curated-123456789012",
            "bucket.P-raw-123456789012",
            "key.P-pii",
            "role.P-analyst",
            "trail.P-trail"
        ]
    );

    let (code, failing) = p.audit_failing();
    assert_eq!(code, 3);
    assert_eq!(
        failing,
        [
            "cloudtrail_log_file_validation_enabled trail.P-trail",
            "iam_role_analyst_cannot_read_pii_zones role.P-analyst",
            "kms_cmk_rotation_enabled key.P-pii",
            "s3_bucket_deny_unencrypted_uploads bucket.P-curated-123456789012",
            "s3_bucket_level_public_access_block bucket.P-raw-123456789012",
            "s3_bucket_secure_transport_policy bucket.P-curated-123456789012",
            "s3_bucket_tls_minimum_version bucket.P-curated-123456789012",
        ]
    );

    p.repair_and_expect_clean();
}

#[test]
fn encryption_removed_admin_attached_public_acl_and_budget_deleted_fail_exactly_the_matching_checks()
 {
    let p = Project::new();
    p.ok(&["apply", "--auto-approve"]);
    p.boto3(
        "s3 = c('s3')
s3.delete_bucket_encryption(Bucket=f'{p}-raw-{acct}')
cur = f'{p}-curated-{acct}'
s3.delete_public_access_block(Bucket=cur)
s3.put_bucket_ownership_controls(Bucket=cur, OwnershipControls={'Rules': [{'ObjectOwnership': 'ObjectWriter'}]})
s3.put_bucket_acl(Bucket=cur, ACL='public-read')
iam = c('iam')
admin = iam.create_policy(PolicyName=f'{p}-break-glass', PolicyDocument='{\"Version\": \"2012-10-17\", \"Statement\": [{\"Effect\": \"Allow\", \"Action\": \"*\", \"Resource\": \"*\"}]}')['Policy']['Arn']
iam.attach_role_policy(RoleName=f'{p}-auditor', PolicyArn=admin)
c('budgets').delete_budget(AccountId=acct, BudgetName=f'{p}-monthly')
",
    );
    let (code, failing) = p.audit_failing();
    assert_eq!(code, 3);
    assert_eq!(
        failing,
        [
            "budgets_monthly_budget_present account",
            "iam_policy_allows_privilege_escalation role.P-auditor",
            "iam_role_administratoraccess_policy role.P-auditor",
            "iam_role_auditor_read_only role.P-auditor",
            "iam_role_no_full_service_access role.P-auditor",
            "iam_role_no_passrole_on_all_resources role.P-auditor",
            "iam_role_no_write_on_all_resources role.P-auditor",
            "s3_bucket_acl_prohibited bucket.P-curated-123456789012",
            "s3_bucket_kms_encryption bucket.P-raw-123456789012",
            "s3_bucket_level_public_access_block bucket.P-curated-123456789012",
            "s3_bucket_public_access bucket.P-curated-123456789012",
            "s3_bucket_zone_key bucket.P-raw-123456789012",
        ]
    );

    p.repair_and_expect_clean();
}

#[test]
fn the_data_stages_run_as_the_etl_role_on_s3_with_kms_glue_and_cloudwatch() {
    let p = Project::applied_for_data();
    let city = repo("data/3-1-1-contact-centre-metrics.csv");
    let out = p.ok(&[
        "etl",
        "run",
        "--input",
        city.to_str().unwrap(),
        "--dataset",
        "metrics",
    ]);
    assert!(
        out.contains("raw      rows in     5585  out     5585")
            && out.contains("trusted.metrics_yearly: written"),
        "{out}"
    );
    // The analyst reads trusted data through Glue and S3 with its own credentials.
    let q = p.ok(&["query", "--engine", "local", "--format", "csv", "select year, round(call_handling_pct, 4) as chp, round(service_level, 4) as sl from trusted.metrics_yearly where year in (2020, 2023) order by year"]);
    assert_eq!(q, "year,chp,sl\n2020,0.9039,0.7096\n2023,0.9419,0.7793\n");
    // SQL reads only, on aws as locally: no file is written on the operator's machine.
    let written = std::env::temp_dir().join(format!("{}-pwned.csv", p.name));
    let o = p.run(&[
        "query",
        "--as",
        "analyst",
        &format!(
            "COPY (select 1 as x) TO '{}' STORED AS CSV",
            written.display()
        ),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("`COPY` statements do not run as role `analyst`"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!written.exists());
    assert!(
        p.ok(&[
            "etl",
            "run",
            "--input",
            city.to_str().unwrap(),
            "--dataset",
            "metrics"
        ])
        .starts_with("No-op")
    );
    // Behind dapgov's back: every object in the data zones is SSE-KMS under its zone's key, the
    // landing copy is the input byte for byte, the staging area is empty, the catalog holds the
    // published tables, the run metrics reached CloudWatch (the failure alarm's too), and the
    // pseudonymisation key is kept only wrapped by KMS.
    p.boto3(&format!(
        r#"
import hashlib
s3, glue, cw, kms = c('s3'), c('glue'), c('cloudwatch'), c('kms')
keys = {{}}
for zone in ('landing', 'raw', 'curated', 'trusted'):
    bucket = f'{{p}}-{{zone}}-{{acct}}'
    rule = s3.get_bucket_encryption(Bucket=bucket)['ServerSideEncryptionConfiguration']['Rules'][0]
    keys[zone] = rule['ApplyServerSideEncryptionByDefault']['KMSMasterKeyID']
    objects = [o['Key'] for page in s3.get_paginator('list_objects_v2').paginate(Bucket=bucket) for o in page.get('Contents', [])]
    assert objects, zone
    assert not [k for k in objects if k.startswith('_staging/')], objects
    for k in objects:
        h = s3.head_object(Bucket=bucket, Key=k)
        assert h['ServerSideEncryption'] == 'aws:kms' and h['SSEKMSKeyId'] == keys[zone], (zone, k, h.get('SSEKMSKeyId'))
landing = [o['Key'] for o in s3.list_objects_v2(Bucket=f'{{p}}-landing-{{acct}}')['Contents']]
body = s3.get_object(Bucket=f'{{p}}-landing-{{acct}}', Key=landing[0])['Body'].read()
assert hashlib.sha256(body).digest() == hashlib.sha256(open({city:?}, 'rb').read()).digest()
names = sorted(t['Name'] for t in glue.get_tables(DatabaseName=p.replace('-', '_') + '_catalog')['TableList'])
assert names == ['curated_metrics', 'quarantine_metrics', 'raw_metrics', 'trusted_metrics_monthly', 'trusted_metrics_yearly'], names
metrics = {{m['MetricName'] for m in cw.list_metrics(Namespace='dapgov')['Metrics'] if dict((d['Name'], d['Value']) for d in m['Dimensions']).get('Project') == p}}
assert {{'EtlRunFailed', 'RowsIn', 'RowsOut', 'PiiFound'}} <= metrics, metrics
# The ETL-failure alarm sees data: a datum carries exactly the alarm's dimensions (CloudWatch
# keeps each dimension set apart, so per-run dimensions alone would never reach it).
alarm = cw.describe_alarms(AlarmNames=[f'{{p}}-etl-failures'])['MetricAlarms'][0]
dims = lambda ds: sorted((d['Name'], d['Value']) for d in ds)
watched = [m for m in cw.list_metrics(Namespace=alarm['Namespace'], MetricName=alarm['MetricName'])['Metrics'] if dims(m['Dimensions']) == dims(alarm['Dimensions'])]
assert watched, ('no datum has the alarm dimensions', alarm['Dimensions'])
wrapped = s3.get_object(Bucket=f'{{p}}-curated-{{acct}}', Key='_keys/pseudonymisation.key')['Body'].read()
assert len(wrapped) > 32
plain = kms.decrypt(CiphertextBlob=wrapped, EncryptionContext={{'purpose': 'pseudonymisation', 'project': p}})['Plaintext']
assert len(plain) == 32
"#
    ));
}

#[test]
fn on_aws_a_query_runs_in_athena_in_the_platforms_workgroup_and_database() {
    let p = Project::new();
    p.ok(&["apply", "--auto-approve"]);
    // moto runs no SQL: it answers queries from a queue of results, Athena's header row first.
    p.boto3(
        r#"
import json, urllib.request
cols = [{'Name': 'year', 'Type': 'integer'}, {'Name': 'chp', 'Type': 'double'}, {'Name': 'first_day', 'Type': 'date'}]
rows = [['year', 'chp', 'first_day'], ['2020', '0.9039', '2020-01-01'], ['2023', '0.9419', '2023-01-01']]
body = {'account_id': acct, 'region': 'ca-central-1', 'results': [{'column_info': cols, 'rows': [{'Data': [{'VarCharValue': v} for v in r]} for r in rows]}]}
req = urllib.request.Request(ENDPOINT + '/moto-api/static/athena/query-results', data=json.dumps(body).encode(), headers={'Content-Type': 'application/json'}, method='POST')
assert urllib.request.urlopen(req).status == 201
"#
        .replace("ENDPOINT", &format!("{:?}", endpoint()))
        .as_str(),
    );
    let sql = "select year, chp, first_day from trusted.metrics_yearly where year in (2020, 2023) order by year";
    assert_eq!(
        p.ok(&["query", "--format", "csv", sql]),
        "year,chp,first_day\n2020,0.9039,2020-01-01\n2023,0.9419,2023-01-01\n"
    );
    // The query went to the platform's workgroup, against its Glue database, naming the
    // catalog's table.
    p.boto3(
        r#"
ath = c('athena')
ids = ath.list_query_executions(WorkGroup=f'{p}-analytics')['QueryExecutionIds']
assert len(ids) == 1, ids
q = ath.get_query_execution(QueryExecutionId=ids[0])['QueryExecution']
assert q['QueryExecutionContext']['Database'] == p.replace('-', '_') + '_catalog', q
assert 'FROM trusted_metrics_yearly WHERE' in q['Query'], q['Query']
"#,
    );
    // A write is refused before Athena sees it (a table made by SELECT INTO too); time travel
    // and SHOW stay in dapgov's engine.
    for (sql, kind) in [
        (
            "insert into curated.metrics select * from curated.metrics",
            "INSERT",
        ),
        ("SELECT * INTO newt FROM curated.metrics", "SELECT INTO"),
    ] {
        let o = p.run(&["query", sql]);
        assert_eq!(o.status.code(), Some(1));
        assert!(
            String::from_utf8_lossy(&o.stderr)
                .contains(&format!("`{kind}` statements do not run as role `analyst`")),
            "{sql}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    for (args, says) in [
        (
            vec!["query", "--as-of", "curated.metrics=0", "select 1"],
            "add --engine local",
        ),
        (vec!["query", "show tables"], "--engine local"),
    ] {
        p.fails_with(&args, 1, says);
    }
    p.boto3("assert len(c('athena').list_query_executions(WorkGroup=f'{p}-analytics')['QueryExecutionIds']) == 1");
}

#[test]
fn files_delivered_into_landing_are_loaded_once_each_oldest_first() {
    let p = Project::applied_for_data();
    let city = repo("data/3-1-1-contact-centre-metrics.csv");
    p.ok(&[
        "etl",
        "run",
        "--input",
        city.to_str().unwrap(),
        "--dataset",
        "metrics",
    ]);
    // The call system delivers two days, one file each, with its own S3 client.
    for (day, seed) in [("1", "5"), ("2", "6")] {
        p.ok(&[
            "sample",
            "calls",
            "--from",
            city.to_str().unwrap(),
            "--out",
            &format!("day{day}.csv"),
            "--days",
            day,
            "--seed",
            seed,
        ]);
    }
    p.boto3(&format!(
        r#"
import time
s3 = c('s3')
for name in ('day1.csv', 'day2.csv'):
    s3.upload_file({dir:?} + '/' + name, f'{{p}}-landing-{{acct}}', 'calls/' + name, ExtraArgs={{'ServerSideEncryption': 'aws:kms'}})
    time.sleep(1.1)
"#,
        dir = p.dir.path().display().to_string()
    ));
    let out = p.ok(&["etl", "run", "--dataset", "calls", "--from-landing"]);
    let first = out.find("calls/day1.csv").unwrap_or(usize::MAX);
    let second = out.find("calls/day2.csv").unwrap_or(0);
    assert!(first < second, "oldest first:\n{out}");
    assert!(
        out.contains("2 delivery(ies); 2 loaded, 0 already taken, 0 failed"),
        "{out}"
    );
    // Run again: nothing new. The runs' own landing copies are not deliveries.
    let again = p.ok(&["etl", "run", "--dataset", "calls", "--from-landing"]);
    assert!(
        again.contains("2 delivery(ies); 0 loaded, 2 already taken, 0 failed"),
        "{again}"
    );
    let history = p.ok(&["etl", "history", "calls", "--format", "json"]);
    let commits: serde_json::Value = serde_json::from_str(&history).unwrap();
    assert_eq!(commits.as_array().unwrap().len(), 2, "{history}");
    // The audit reads each dataset's latest run from CloudWatch: both good, then a failed one.
    let latest = |p: &Project| {
        let mut v: Vec<String> = p
            .audit()
            .1
            .iter()
            .filter(|f| f["check_id"] == "etl_latest_run_succeeded")
            .map(|f| {
                format!(
                    "{} {}",
                    f["resource"]
                        .as_str()
                        .unwrap()
                        .trim_start_matches("etl_dataset."),
                    f["status"].as_str().unwrap()
                )
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(latest(&p), ["calls PASS", "metrics PASS"]);
    std::fs::write(p.dir.path().join("empty.csv"), "").unwrap();
    assert_eq!(
        p.run(&["etl", "run", "--input", "empty.csv", "--dataset", "calls"])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(latest(&p), ["calls FAIL", "metrics PASS"]);
    // The failed run reached the failure alarm's own metric: its dimensions, its statistic.
    p.boto3(
        r#"
import datetime
cw = c('cloudwatch')
alarm = cw.describe_alarms(AlarmNames=[f'{p}-etl-failures'])['MetricAlarms'][0]
now = datetime.datetime.now(datetime.timezone.utc)
got = cw.get_metric_statistics(Namespace=alarm['Namespace'], MetricName=alarm['MetricName'], Dimensions=alarm['Dimensions'],
                               StartTime=now - datetime.timedelta(hours=1), EndTime=now + datetime.timedelta(minutes=1), Period=60, Statistics=[alarm['Statistic']])
assert any(d[alarm['Statistic']] >= alarm['Threshold'] for d in got['Datapoints']), (alarm, got['Datapoints'])
"#,
    );
}

/// `audit --security-hub` imports the findings as ASFF; a second audit updates the same
/// findings in place (one per check and resource), never adding copies.
#[test]
fn findings_go_into_security_hub_and_a_later_audit_updates_them_in_place() {
    let p = Project::new();
    p.ok(&["apply", "--auto-approve"]);
    p.boto3("kms = c('kms')\nalias = {a['AliasName']: a['TargetKeyId'] for a in kms.list_aliases()['Aliases'] if 'TargetKeyId' in a}\nkms.disable_key_rotation(KeyId=alias[f'alias/{p}-pii'])");
    let mine = "import json\nfound = [f for f in c('securityhub').get_findings(MaxResults=100)['Findings'] if f['GeneratorId'].startswith('dapgov-') and f['ProductFields']['dapgov/resource'].find(p) >= 0]\nrot = [f['Compliance']['Status'] for f in found if f['GeneratorId'] == 'dapgov-kms_cmk_rotation_enabled' and f'{p}-pii' in f['ProductFields']['dapgov/resource']]\nprint(json.dumps([len(found), len({f['Id'] for f in found}), rot]))";
    let out = p.ok(&[
        "audit",
        "--security-hub",
        "--format",
        "json",
        "--fail-on",
        "none",
    ]);
    assert!(
        out.contains("Security Hub of account 123456789012:"),
        "{out}"
    );
    let first: serde_json::Value = serde_json::from_str(&p.boto3_out(mine)).unwrap();
    assert!(first[0].as_u64().unwrap() > 20, "{first}");
    assert_eq!(first[0], first[1], "one finding per id");
    assert_eq!(first[2], serde_json::json!(["FAILED"]));

    // Repaired and audited again: the same findings, now passing.
    p.ok(&["apply", "--auto-approve"]);
    p.ok(&["audit", "--security-hub", "--format", "json"]);
    let second: serde_json::Value = serde_json::from_str(&p.boto3_out(mine)).unwrap();
    assert_eq!(second[0], first[0], "updated in place, not duplicated");
    assert_eq!(second[2], serde_json::json!(["PASSED"]));
}

/// One audit over the three accounts of an organization (moto's multi-account mode: a role
/// assumed in an account serves that account), each read through a role assumed there.
#[test]
fn one_audit_reads_every_account_of_the_organization_and_names_the_misconfigured_one() {
    let p = Project::new();
    let members: Vec<String> = p
        .boto3_out("o = c('organizations')\no.create_organization(FeatureSet='ALL')\nprint(' '.join(o.create_account(AccountName=n, Email=f'{n}@example.org')['CreateAccountStatus']['AccountId'] for n in ('test', 'prod')))")
        .split_whitespace()
        .map(String::from)
        .collect();
    assert_eq!(members.len(), 2);
    let creds = |account: &str| -> Vec<String> {
        p.boto3_out(&format!("c_ = c('sts').assume_role(RoleArn='arn:aws:iam::{account}:role/OrganizationAccountAccessRole', RoleSessionName='setup')['Credentials']\nprint(c_['AccessKeyId'], c_['SecretAccessKey'], c_['SessionToken'])"))
            .split_whitespace()
            .map(String::from)
            .collect()
    };
    p.ok(&["apply", "--auto-approve"]);
    for m in &members {
        succeeded(
            p.run_as(&creds(m), &["apply", "--auto-approve"]),
            "apply in a member account",
        );
    }
    // Behind dapgov's back, in prod only: the PII key stops rotating.
    let prod = creds(&members[1]);
    p.boto3(&format!(
        "import boto3\nkms = boto3.client('kms', endpoint_url=c('kms').meta.endpoint_url, region_name='ca-central-1', aws_access_key_id={:?}, aws_secret_access_key={:?}, aws_session_token={:?})\nalias = {{a['AliasName']: a['TargetKeyId'] for a in kms.list_aliases()['Aliases'] if 'TargetKeyId' in a}}\nkms.disable_key_rotation(KeyId=alias[f'alias/{{p}}-pii'])",
        prod[0], prod[1], prod[2]
    ));

    let o = p.run(&[
        "audit",
        "--accounts",
        "org",
        "--role-name",
        "OrganizationAccountAccessRole",
        "--framework",
        "cis",
        "--format",
        "json,html,csv",
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(3),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let a: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(p.dir.path().join("reports/audit.json")).unwrap(),
    )
    .unwrap();
    let accounts: Vec<(String, u64)> = a["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["account_id"].as_str().unwrap().to_string(),
                x["exit_status"].as_u64().unwrap(),
            )
        })
        .collect();
    let mut want = vec![
        ("123456789012".to_string(), 0),
        (members[0].clone(), 0),
        (members[1].clone(), 3),
    ];
    want.sort();
    assert_eq!(accounts, want, "{out}");
    let failing: Vec<(String, String)> = a["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "FAIL")
        .map(|f| {
            (
                f["account"].as_str().unwrap().to_string(),
                f["check_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        failing,
        vec![(members[1].clone(), "kms_cmk_rotation_enabled".to_string())]
    );
    let cis = std::fs::read_to_string(p.dir.path().join("reports/compliance-cis.csv")).unwrap();
    assert!(
        cis.lines()
            .any(|l| l.contains(",4.6,") && l.contains("FAIL")),
        "{cis}"
    );
    let html = std::fs::read_to_string(p.dir.path().join("reports/audit.html")).unwrap();
    assert!(members.iter().all(|m| html.contains(m.as_str())) && html.contains("id=\"accounts\""));

    // An account that cannot be read is named, and the run fails with 1, whatever the others found.
    std::fs::write(
        p.dir.path().join("accounts.txt"),
        format!(
            "# dev, test, prod\n123456789012 dev\n{} prod\nnot-an-account\n",
            members[1]
        ),
    )
    .unwrap();
    let o = p.run(&[
        "audit",
        "--accounts",
        "accounts.txt",
        "--role-name",
        "OrganizationAccountAccessRole",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("accounts.txt:4: `not-an-account` is not a 12-digit AWS account id"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The operations dashboard: apply puts it (PutDashboard), the Inventory reads it back
/// (GetDashboard), the audit checks it, and one deleted behind dapgov's back is planned and put
/// back.
#[test]
fn the_operations_dashboard_is_put_read_audited_and_repaired() {
    let p = Project::new();
    p.ok(&["apply", "--auto-approve"]);
    p.boto3("import json\nb = json.loads(c('cloudwatch').get_dashboard(DashboardName=f'{p}-operations')['DashboardBody'])\nkinds = [w['type'] for w in b['widgets']]\nassert kinds.count('alarm') == 1 and kinds.count('metric') == 5, kinds\nassert 'EtlRunFailed' in json.dumps(b) and any(w['properties'].get('region') == 'us-east-1' for w in b['widgets'])");
    assert_eq!(
        p.run(&["plan", "--detailed-exitcode"]).status.code(),
        Some(0),
        "the body read back equals the body put"
    );
    p.boto3("c('cloudwatch').delete_dashboards(DashboardNames=[f'{p}-operations'])");
    let plan = p.ok(&["plan"]);
    assert!(
        plan.contains(&format!("+ dashboard \"{}-operations\"", p.name)),
        "{plan}"
    );
    assert!(
        p.audit_failing()
            .1
            .contains(&"cloudwatch_dashboard_present account".to_string())
    );
    p.repair_and_expect_clean();
}

/// `dapgov cost` on AWS asks Cost Explorer for the project's tagged cost, month by month
/// (moto serves the answer set up below); the forecast, which moto cannot make, is a note.
#[test]
fn the_cost_comes_from_cost_explorer_filtered_to_the_project() {
    let p = Project::new();
    p.boto3(&format!(
        "import urllib.request, json, datetime\nstart = datetime.date.today().replace(day=1).isoformat()\nbody = {{'results': [{{'ResultsByTime': [{{'TimePeriod': {{'Start': start, 'End': start}}, 'Total': {{}}, 'Groups': [{{'Keys': ['Amazon Simple Storage Service'], 'Metrics': {{'UnblendedCost': {{'Amount': '1.50', 'Unit': 'USD'}}}}}}, {{'Keys': ['AWS Key Management Service'], 'Metrics': {{'UnblendedCost': {{'Amount': '3.00', 'Unit': 'USD'}}}}}}], 'Estimated': True}}], 'DimensionValueAttributes': []}}]}}\nreq = urllib.request.Request('{}/moto-api/static/ce/cost-and-usage-results', data=json.dumps(body).encode(), headers={{'Content-Type': 'application/json'}})\nassert urllib.request.urlopen(req).status == 201",
        endpoint()
    ));
    let out: serde_json::Value =
        serde_json::from_str(&p.ok(&["cost", "--months", "1", "--format", "json"])).unwrap();
    let month = &out["cost"]["months"][0];
    assert_eq!(month["groups"]["AWS Key Management Service"], 3.0);
    assert_eq!(month["total"], 4.5);
    assert_eq!(out["cost"]["estimated"], false);
    assert_eq!(out["budget_usd"], 50.0);
    assert!(
        out["cost"]["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().starts_with("no forecast")),
        "{out:#}"
    );
    let table = p.ok(&["cost", "--months", "1"]);
    assert!(
        table.contains("Amazon Simple Storage Service")
            && table.contains("4.50")
            && table.contains("50.00"),
        "{table}"
    );
}

/// An EventBridge "Object Created" event of S3, as the rule delivers it to the function.
fn object_created(bucket: &str, key: &str, size: u64) -> String {
    serde_json::json!({
        "version": "0", "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created", "source": "aws.s3", "account": "123456789012",
        "time": "2026-12-06T17:00:00Z", "region": "ca-central-1",
        "resources": [format!("arn:aws:s3:::{bucket}")],
        "detail": {"version": "0", "bucket": {"name": bucket},
            "object": {"key": key, "size": size, "etag": "b1946ac92492d2347c6235b4d2611184", "sequencer": "00617F08299329D189"},
            "request-id": "N4N7GDK58NMKJ12R", "requester": "123456789012", "reason": "PutObject"}
    })
    .to_string()
}

#[test]
fn the_function_handles_a_landing_event_once_however_often_it_comes_on_moto() {
    let p = Project::applied_for_data();
    let city = repo("data/3-1-1-contact-centre-metrics.csv");
    let day = p.dir.path().join("day.csv");
    let text = std::fs::read_to_string(&city).unwrap();
    std::fs::write(
        &day,
        text.lines().take(4).collect::<Vec<_>>().join("\n") + "\n",
    )
    .unwrap();
    p.boto3(&format!(
        "c('s3').upload_file({:?}, f'{{p}}-landing-{{acct}}', 'metrics/day.csv', ExtraArgs={{'ServerSideEncryption': 'aws:kms'}})",
        day.display().to_string()
    ));
    let bucket = format!("{}-landing-123456789012", p.name);
    let event = p.dir.path().join("event.json");
    std::fs::write(&event, object_created(&bucket, "metrics/day.csv", 200)).unwrap();
    let event = event.to_str().unwrap();
    let first: serde_json::Value = serde_json::from_str(
        p.ok(&["lambda", "invoke", "--event", event])
            .lines()
            .last()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(first["status"], "loaded", "{first}");
    for _ in 0..2 {
        let again: serde_json::Value = serde_json::from_str(
            p.ok(&["lambda", "invoke", "--event", event])
                .lines()
                .last()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(again["status"], "already_loaded", "{again}");
    }
    let history = p.ok(&["etl", "history", "metrics", "--format", "json"]);
    let commits: serde_json::Value = serde_json::from_str(&history).unwrap();
    assert_eq!(commits.as_array().unwrap().len(), 1, "{history}");
    assert_eq!(
        commits[0]["load"]["delivery"]["landing_key"],
        format!("s3://{bucket}/metrics/day.csv")
    );
    // An event for another platform's bucket is refused, not loaded.
    let other = p.dir.path().join("other.json");
    std::fs::write(
        &other,
        object_created("someone-elses-landing", "metrics/day.csv", 200),
    )
    .unwrap();
    p.fails_with(
        &["lambda", "invoke", "--event", other.to_str().unwrap()],
        1,
        "not this platform's landing bucket",
    );
}

/// A platform whose spec names the loader's package (a small zip: moto keeps the code, it
/// does not run it).
fn with_loader(p: &Project) {
    use std::io::Write;
    let file = std::fs::File::create(p.dir.path().join("pkg.zip")).unwrap();
    let mut zip = zip::ZipWriter::new(file);
    zip.start_file("bootstrap", zip::write::SimpleFileOptions::default())
        .unwrap();
    zip.write_all(b"#!/bin/sh\n").unwrap();
    zip.finish().unwrap();
    let spec = p.dir.path().join("dapgov.toml");
    let text = std::fs::read_to_string(&spec).unwrap();
    std::fs::write(
        &spec,
        format!("{text}\n[automation.function]\npackage = \"pkg.zip\"\n"),
    )
    .unwrap();
}

#[test]
fn the_loader_and_what_feeds_it_are_applied_repaired_fed_and_destroyed_on_moto() {
    let p = Project::new();
    with_loader(&p);
    p.ok(&["apply", "--auto-approve"]);
    assert_eq!(
        p.run(&["plan", "--detailed-exitcode"]).status.code(),
        Some(0),
        "a second plan is empty"
    );
    let made = p.boto3_out(
        r#"
import json
f = c('lambda').get_function(FunctionName=f'{p}-loader')
conf = f['Configuration']
print(conf['Role'].endswith(f':role/{p}-etl'), conf['Runtime'], conf['Architectures'], f['Concurrency']['ReservedConcurrentExecutions'])
q = c('sqs').get_queue_url(QueueName=f'{p}-loader-dlq')['QueueUrl']
print(bool(c('sqs').get_queue_attributes(QueueUrl=q, AttributeNames=['KmsMasterKeyId'])['Attributes'].get('KmsMasterKeyId')))
s = c('scheduler').get_schedule(GroupName=f'{p}-jobs', Name='landing_sweep')
print(s['ScheduleExpression'], s['ScheduleExpressionTimezone'], json.loads(s['Target']['Input']))
print([t['Id'] for t in c('events').list_targets_by_rule(Rule=f'{p}-deliveries')['Targets']])
"#,
    );
    assert_eq!(
        made,
        "True provided.al2023 ['arm64'] 2\nTrue\ncron(15 6 * * ? *) America/Vancouver {'dapgov_job': 'landing_sweep'}\n['loader']\n",
        "{made}"
    );
    // Drift behind dapgov's back: the rule disabled, the permission removed, a schedule deleted.
    p.boto3(
        "c('events').disable_rule(Name=f'{p}-deliveries')\nc('lambda').remove_permission(FunctionName=f'{p}-loader', StatementId='deliveries')\nc('scheduler').delete_schedule(Name='maintain', GroupName=f'{p}-jobs')",
    );
    let drift = p.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(drift.status.code(), Some(2));
    let text = String::from_utf8_lossy(&drift.stdout);
    for said in [
        "state: \"DISABLED\" -> \"ENABLED\"",
        "permissions.deliveries: (none)",
        "schedules.maintain: (none)",
    ] {
        assert!(text.contains(said), "{said} not in:\n{text}");
    }
    p.ok(&["apply", "--auto-approve"]);
    assert_eq!(
        p.run(&["plan", "--detailed-exitcode"]).status.code(),
        Some(0)
    );
    // A delivery landing is an event the rule matches: captured through a queue of the test's
    // (moto does not run functions) and handed to the handler. moto 5.1.22 labels a PutObject's
    // event "Object Tags Added" where S3 says "Object Created": the capture drops the type
    // from the rule's pattern and the test restores it.
    let captured = p.boto3_out(&format!(
        r#"
import json
q = c('sqs').create_queue(QueueName=f'capture-{{p}}')['QueueUrl']
arn = c('sqs').get_queue_attributes(QueueUrl=q, AttributeNames=['QueueArn'])['Attributes']['QueueArn']
pattern = json.loads(c('events').describe_rule(Name=f'{{p}}-deliveries')['EventPattern'])
pattern.pop('detail-type')
c('events').put_rule(Name=f'capture-{{p}}', EventPattern=json.dumps(pattern))
c('events').put_targets(Rule=f'capture-{{p}}', Targets=[{{'Id': 'q', 'Arn': arn}}])
c('s3').delete_bucket_policy(Bucket=f'{{p}}-landing-{{acct}}')
c('s3').upload_file({file:?}, f'{{p}}-landing-{{acct}}', 'metrics/day.csv')
c('s3').put_object(Bucket=f'{{p}}-landing-{{acct}}', Key='elsewhere/day.csv', Body=b'x')
got = c('sqs').receive_message(QueueUrl=q, WaitTimeSeconds=2, MaxNumberOfMessages=10).get('Messages', [])
events = [json.loads(m['Body']) for m in got]
assert [e['detail']['object']['key'] for e in events] == ['metrics/day.csv'], events
events[0]['detail-type'] = 'Object Created'
print(json.dumps(events[0]))
"#,
        file = day_file(&p).display().to_string()
    ));
    p.boto3("for zone in ('raw', 'curated', 'trusted'):\n    c('s3').delete_bucket_policy(Bucket=f'{p}-{zone}-{acct}')");
    let event = p.dir.path().join("landed.json");
    std::fs::write(&event, captured.trim()).unwrap();
    let out = p.ok(&["lambda", "invoke", "--event", event.to_str().unwrap()]);
    assert!(
        out.lines()
            .last()
            .unwrap()
            .contains("\"status\":\"loaded\""),
        "{out}"
    );
    // Destroy removes the loader and everything that fed it.
    p.ok(&["destroy", "--auto-approve", "--force-delete-data"]);
    let left = p.boto3_out(
        "print(len([f for f in c('lambda').list_functions()['Functions'] if f['FunctionName'].startswith(p + '-')]), len(c('events').list_rules(NamePrefix=p + '-')['Rules']), len(c('scheduler').list_schedule_groups(NamePrefix=p + '-')['ScheduleGroups']), len(c('sqs').list_queues(QueueNamePrefix=p + '-').get('QueueUrls', [])))",
    );
    assert_eq!(left, "0 0 0 0\n");
}

/// Three days of the City's file, as a delivery.
fn day_file(p: &Project) -> std::path::PathBuf {
    let text = std::fs::read_to_string(repo("data/3-1-1-contact-centre-metrics.csv")).unwrap();
    let day = p.dir.path().join("day.csv");
    std::fs::write(
        &day,
        text.lines().take(4).collect::<Vec<_>>().join("\n") + "\n",
    )
    .unwrap();
    day
}
