//! The loader function: read with its configuration, code hash, reserved concurrency, resource
//! policy and tags; put (its package uploaded to the artifacts bucket first); deleted.

use crate::AwsTarget;
use crate::apply::parse;
use crate::error::{build, code, sdk};
use crate::resources::{AwsResource, Found, ReadScope};
use aws_sdk_lambda::types::{
    Architecture, DeadLetterConfig, Environment, EphemeralStorage, FunctionCode, Runtime,
};
use dapgov_inventory::names::project_prefix;
use dapgov_inventory::*;
use dapgov_target::{ChangeRequest, TargetError, TargetResult};
use std::collections::BTreeMap;

type Lambda = aws_sdk_lambda::Client;

async fn read_all(t: &AwsTarget, project: &str) -> TargetResult<BTreeMap<String, Function>> {
    let lambda = &t.clients.lambda;
    let mut names = vec![];
    let mut pages = lambda.list_functions().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| sdk("lambda:ListFunctions", "the account", e))?;
        names.extend(
            page.functions()
                .iter()
                .filter_map(|f| f.function_name())
                .filter(|n| n.starts_with(&project_prefix(project)))
                .map(str::to_string),
        );
    }
    let mut out = BTreeMap::new();
    for name in names {
        out.insert(name.clone(), read_one(lambda, name).await?);
    }
    Ok(out)
}

async fn read_one(lambda: &Lambda, name: String) -> TargetResult<Function> {
    let what = format!("function {name}");
    let got = lambda
        .get_function()
        .function_name(&name)
        .send()
        .await
        .map_err(|e| sdk("lambda:GetFunction", &what, e))?;
    let c = got
        .configuration()
        .cloned()
        .unwrap_or_else(|| aws_sdk_lambda::types::FunctionConfiguration::builder().build());
    let reserved = match lambda
        .get_function_concurrency()
        .function_name(&name)
        .send()
        .await
    {
        Ok(r) => r.reserved_concurrent_executions().map(|n| n as u32),
        Err(e) => return Err(sdk("lambda:GetFunctionConcurrency", &what, e)),
    };
    Ok(Function {
        arn: c.function_arn().map(str::to_string),
        role: c.role().map(str::to_string),
        runtime: c.runtime().map(|r| r.as_str().to_string()),
        handler: c.handler().map(str::to_string),
        architecture: c.architectures().first().map(|a| a.as_str().to_string()),
        memory_mb: c.memory_size().map(|m| m as u32),
        timeout_seconds: c.timeout().map(|t| t as u32),
        ephemeral_storage_mb: c.ephemeral_storage().map(|e| e.size() as u32),
        reserved_concurrency: reserved,
        code_sha256: c.code_sha256().map(str::to_string),
        package: None,
        dead_letter_queue: c
            .dead_letter_config()
            .and_then(|d| d.target_arn())
            .map(str::to_string),
        environment: c
            .environment()
            .and_then(|e| e.variables())
            .map(|v| v.clone().into_iter().collect()),
        log_group: c
            .logging_config()
            .and_then(|l| l.log_group())
            .map(str::to_string),
        permissions: Some(permissions(lambda, &name).await?),
        tags: Some(
            got.tags()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .collect(),
        ),
        name,
    })
}

/// The function's resource policy as statements by id (none: no policy).
async fn permissions(
    lambda: &Lambda,
    name: &str,
) -> TargetResult<BTreeMap<String, InvokePermission>> {
    let policy = match lambda.get_policy().function_name(name).send().await {
        Ok(p) => p.policy().unwrap_or_default().to_string(),
        Err(e) if code(&e) == Some("ResourceNotFoundException") => return Ok(BTreeMap::new()),
        Err(e) => return Err(sdk("lambda:GetPolicy", &format!("function {name}"), e)),
    };
    let doc: serde_json::Value = serde_json::from_str(&policy)
        .map_err(|e| TargetError::Other(format!("function {name}: its policy is not JSON: {e}")))?;
    let mut out = BTreeMap::new();
    for s in doc["Statement"].as_array().into_iter().flatten() {
        let principal = match &s["Principal"] {
            serde_json::Value::String(p) => p.clone(),
            p => p["Service"]
                .as_str()
                .or_else(|| p["AWS"].as_str())
                .unwrap_or_default()
                .to_string(),
        };
        let source_arn = s["Condition"]["ArnLike"]["AWS:SourceArn"]
            .as_str()
            .map(str::to_string);
        out.insert(
            s["Sid"].as_str().unwrap_or_default().to_string(),
            InvokePermission {
                principal,
                source_arn,
            },
        );
    }
    Ok(out)
}

fn unreadable_package(what: &str, p: &FunctionPackage, e: &dyn std::fmt::Display) -> TargetError {
    TargetError::Other(format!(
        "{what}: reading the package {}: {e}; build it with `dapgov package lambda`",
        p.file
    ))
}

/// The largest package Lambda takes in the request itself; larger ones go through S3.
const MAX_DIRECT_UPLOAD_BYTES: u64 = 50_000_000;

/// The function's code: a package Lambda takes directly in the request, else uploaded to the
/// artifacts bucket (encrypted under the bucket's key) and named there.
async fn package_code(
    t: &AwsTarget,
    p: &FunctionPackage,
    what: &str,
) -> TargetResult<FunctionCode> {
    let size = std::fs::metadata(&p.file)
        .map_err(|e| unreadable_package(what, p, &e))?
        .len();
    if size <= MAX_DIRECT_UPLOAD_BYTES {
        let bytes = std::fs::read(&p.file).map_err(|e| unreadable_package(what, p, &e))?;
        return Ok(FunctionCode::builder()
            .zip_file(aws_sdk_lambda::primitives::Blob::new(bytes))
            .build());
    }
    upload(t, p, what).await?;
    Ok(FunctionCode::builder()
        .s3_bucket(&p.bucket)
        .s3_key(&p.key)
        .build())
}

/// Upload the function's package to the artifacts bucket (encrypted under the bucket's key).
async fn upload(t: &AwsTarget, p: &FunctionPackage, what: &str) -> TargetResult<()> {
    let body = aws_sdk_s3::primitives::ByteStream::from_path(&p.file)
        .await
        .map_err(|e| unreadable_package(what, p, &e))?;
    t.clients
        .s3
        .put_object()
        .bucket(&p.bucket)
        .key(&p.key)
        .server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::AwsKms)
        .body(body)
        .send()
        .await
        .map_err(|e| sdk("s3:PutObject", &format!("{what}'s package"), e))?;
    Ok(())
}

fn arch(want: &Function) -> Architecture {
    Architecture::from(want.architecture.as_deref().unwrap_or("arm64"))
}

/// The configuration creating and updating a function both send: two SDK request builders
/// with the same setters.
macro_rules! configured {
    ($request:expr, $want:expr) => {
        $request
            .function_name(&$want.name)
            .set_role($want.role.clone())
            .set_handler($want.handler.clone())
            .set_memory_size($want.memory_mb.map(|m| m as i32))
            .set_timeout($want.timeout_seconds.map(|s| s as i32))
            .set_ephemeral_storage(ephemeral($want)?)
            .set_dead_letter_config(
                $want
                    .dead_letter_queue
                    .as_ref()
                    .map(|q| DeadLetterConfig::builder().target_arn(q).build()),
            )
            .set_environment(environment($want))
            .set_logging_config(logging($want))
    };
}

async fn create(t: &AwsTarget, want: &Function, what: &str) -> TargetResult<()> {
    let p = want
        .package
        .as_ref()
        .ok_or_else(|| TargetError::Other(format!("{what}: no package to create it from")))?;
    let code = package_code(t, p, what).await?;
    configured!(t.clients.lambda.create_function(), want)
        .runtime(Runtime::from(
            want.runtime.as_deref().unwrap_or("provided.al2023"),
        ))
        .architectures(arch(want))
        .code(code)
        .set_tags(want.tags.clone().map(|t| t.into_iter().collect()))
        .send()
        .await
        .map_err(|e| sdk("lambda:CreateFunction", what, e))?;
    Ok(())
}

fn ephemeral(want: &Function) -> TargetResult<Option<EphemeralStorage>> {
    want.ephemeral_storage_mb
        .map(|mb| {
            EphemeralStorage::builder()
                .size(mb as i32)
                .build()
                .map_err(|e| build("ephemeral storage", e))
        })
        .transpose()
}

fn environment(want: &Function) -> Option<Environment> {
    want.environment.as_ref().map(|v| {
        Environment::builder()
            .set_variables(Some(v.clone().into_iter().collect()))
            .build()
    })
}

fn logging(want: &Function) -> Option<aws_sdk_lambda::types::LoggingConfig> {
    want.log_group.as_ref().map(|g| {
        aws_sdk_lambda::types::LoggingConfig::builder()
            .log_group(g)
            .log_format(aws_sdk_lambda::types::LogFormat::Text)
            .build()
    })
}

/// A function that exists: its code replaced when the package's hash differs, its
/// configuration sent whole (an idempotent update).
async fn update(t: &AwsTarget, want: &Function, have: &Function, what: &str) -> TargetResult<()> {
    let lambda = &t.clients.lambda;
    if let (Some(p), true) = (&want.package, want.code_sha256 != have.code_sha256) {
        let code = package_code(t, p, what).await?;
        lambda
            .update_function_code()
            .function_name(&want.name)
            .set_zip_file(code.zip_file().cloned())
            .set_s3_bucket(code.s3_bucket().map(str::to_string))
            .set_s3_key(code.s3_key().map(str::to_string))
            .architectures(arch(want))
            .send()
            .await
            .map_err(|e| sdk("lambda:UpdateFunctionCode", what, e))?;
    }
    configured!(lambda.update_function_configuration(), want)
        .set_runtime(want.runtime.as_deref().map(Runtime::from))
        .send()
        .await
        .map_err(|e| sdk("lambda:UpdateFunctionConfiguration", what, e))?;
    Ok(())
}

/// Exactly the declared statements: one that differs is replaced, one not declared removed
/// (so no one else, and never `*`, may invoke the function).
async fn put_permissions(
    t: &AwsTarget,
    want: &Function,
    have: Option<&Function>,
    what: &str,
) -> TargetResult<()> {
    let lambda = &t.clients.lambda;
    let Some(wanted) = &want.permissions else {
        return Ok(());
    };
    let had = have.and_then(|h| h.permissions.clone()).unwrap_or_default();
    for (sid, p) in &had {
        if wanted.get(sid) != Some(p) {
            lambda
                .remove_permission()
                .function_name(&want.name)
                .statement_id(sid)
                .send()
                .await
                .map_err(|e| sdk("lambda:RemovePermission", what, e))?;
        }
    }
    for (sid, p) in wanted.iter().filter(|(sid, p)| had.get(*sid) != Some(*p)) {
        lambda
            .add_permission()
            .function_name(&want.name)
            .statement_id(sid)
            .action("lambda:InvokeFunction")
            .principal(&p.principal)
            .set_source_arn(p.source_arn.clone())
            .send()
            .await
            .map_err(|e| sdk("lambda:AddPermission", what, e))?;
    }
    Ok(())
}

async fn put(t: &AwsTarget, want: Function, have: Option<Function>) -> TargetResult<()> {
    let what = format!("function {}", want.name);
    let lambda = &t.clients.lambda;
    match &have {
        None => create(t, &want, &what).await?,
        Some(h) => update(t, &want, h, &what).await?,
    }
    if let Some(n) = want.reserved_concurrency {
        lambda
            .put_function_concurrency()
            .function_name(&want.name)
            .reserved_concurrent_executions(n as i32)
            .send()
            .await
            .map_err(|e| sdk("lambda:PutFunctionConcurrency", &what, e))?;
    }
    put_permissions(t, &want, have.as_ref(), &what).await?;
    if let (Some(tags), Some(arn)) = (&want.tags, have.as_ref().and_then(|h| h.arn.clone())) {
        lambda
            .tag_resource()
            .resource(arn)
            .set_tags(Some(tags.clone().into_iter().collect()))
            .send()
            .await
            .map_err(|e| sdk("lambda:TagResource", &what, e))?;
    }
    Ok(())
}

async fn delete(t: &AwsTarget, c: &ChangeRequest) -> TargetResult<()> {
    let what = c.resource.to_string();
    let have: Function = parse(c.observed.as_ref(), &c.resource)?;
    match t
        .clients
        .lambda
        .delete_function()
        .function_name(&have.name)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if code(&e) == Some("ResourceNotFoundException") => Ok(()),
        Err(e) => Err(sdk("lambda:DeleteFunction", &what, e)),
    }
}

impl AwsResource for Function {
    const READ_ACTIONS: &'static [&'static str] = &[
        "lambda:ListFunctions",
        "lambda:GetFunction",
        "lambda:GetFunctionConcurrency",
        "lambda:GetPolicy",
    ];
    async fn read_all(t: &AwsTarget, scope: &ReadScope<'_>) -> TargetResult<Found<Self>> {
        Ok(Found::kept_only_by_aws(
            t,
            read_all(t, scope.project).await?,
            &[
                ("dead_letter_queue", |f| f.dead_letter_queue.is_none()),
                ("log_group", |f| f.log_group.is_none()),
            ],
        ))
    }
    async fn put(t: &AwsTarget, want: Self, have: Option<Self>) -> TargetResult<()> {
        put(t, want, have).await
    }
    async fn delete(t: &AwsTarget, c: &ChangeRequest) -> TargetResult<()> {
        delete(t, c).await
    }
}
