//! S3 archives: ListObjectsV2 (one level with the delimiter `/` where the planner prunes,
//! everything below a prefix where it does not) and streamed GetObject bodies.
//!
//! Credentials and region come from the AWS SDK's usual chain (environment, profile, SSO,
//! instance role); `--endpoint-url` or `AWS_ENDPOINT_URL` points it at an emulator or a VPC
//! endpoint. The workers are plain threads: each GET is driven on a small tokio runtime and
//! its body is read chunk by chunk as the inflater asks for bytes, so an object is never held
//! whole in memory. The number of concurrent GETs is the pool size (`--concurrency`).
//!
//! Least privilege: `s3:ListBucket` on the bucket (optionally limited by `s3:prefix`) and
//! `s3:GetObject` on `arn:aws:s3:::BUCKET/AWSLogs/*`. KMS-encrypted trails also need
//! `kms:Decrypt` on the trail's key.

use std::io::Read;

use anyhow::{Context, Result};
use aws_sdk_s3::primitives::ByteStream;

use super::{pages, Page, S3Options, Store};
use crate::cloud_error;

/// One bucket.
pub(crate) struct S3 {
    bucket: String,
    client: aws_sdk_s3::Client,
    runtime: tokio::runtime::Runtime,
    /// The endpoint override, for messages.
    endpoint: Option<crate::cloud_error::Endpoint>,
}

impl std::fmt::Debug for S3 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3").field("bucket", &self.bucket).finish()
    }
}

/// `s3://bucket/prefix` → (bucket, prefix).
pub(crate) fn parse_url(url: &str) -> Result<(String, String)> {
    super::bucket_url(url, "s3")
}

/// Connects to a bucket: the store, and the prefix a walk starts from. Fails when the prefix
/// cannot be listed at all (no bucket, access denied, no credentials), with a one-line message
/// that names the source.
pub(crate) fn connect(url: &str, opts: &S3Options) -> Result<(S3, String)> {
    let (bucket, prefix) = parse_url(url).map_err(|e| anyhow::anyhow!("{url}: {e}"))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .with_context(|| format!("{url}: starting the S3 client runtime"))?;
    let client = runtime.block_on(async {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(r) = &opts.region {
            loader = loader.region(aws_config::Region::new(r.clone()));
        }
        if let Some(e) = &opts.endpoint_url {
            loader = loader.endpoint_url(e.clone());
        }
        let shared = loader.load().await;
        let mut conf =
            aws_sdk_s3::config::Builder::from(&shared).force_path_style(opts.force_path_style);
        if shared.region().is_none() {
            conf = conf.region(aws_config::Region::new("us-east-1"));
        }
        aws_sdk_s3::Client::from_conf(conf.build())
    });
    let s3 = S3 {
        bucket,
        client,
        runtime,
        endpoint: cloud_error::aws_endpoint(opts.endpoint_url.as_deref()),
    };
    // The first call says whether the bucket can be listed at all.
    if let Err(e) = s3.list(&prefix, true, &mut |_| false) {
        anyhow::bail!("{e}");
    }
    Ok((s3, prefix))
}

impl Store for S3 {
    fn display(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    fn list(
        &self,
        prefix: &str,
        delimited: bool,
        on_page: &mut dyn FnMut(Page) -> bool,
    ) -> Result<(), String> {
        let what = || format!("s3://{}/{prefix}: cannot list", self.bucket);
        pages(
            what,
            |token| {
                let req = self
                    .client
                    .list_objects_v2()
                    .bucket(&self.bucket)
                    .prefix(prefix)
                    .set_delimiter(delimited.then(|| "/".to_string()))
                    .set_continuation_token(token.map(str::to_string));
                let out = self.runtime.block_on(req.send()).map_err(|e| {
                    format!(
                        "{}: {}",
                        what(),
                        cloud_error::aws(
                            &e,
                            &format!("s3:ListBucket on {}", self.bucket),
                            self.endpoint.as_ref()
                        )
                    )
                })?;
                let mut page = Page::default();
                for cp in out.common_prefixes() {
                    if let Some(p) = cp.prefix() {
                        page.dirs.push(p.to_string());
                    }
                }
                for o in out.contents() {
                    if let Some(k) = o.key() {
                        page.keys
                            .push((k.to_string(), o.size().unwrap_or(0).max(0) as u64));
                    }
                }
                let next = out
                    .next_continuation_token()
                    .filter(|_| out.is_truncated() == Some(true))
                    .map(str::to_string);
                Ok((page, next))
            },
            on_page,
        )
    }

    fn open(&self, key: &str) -> Result<Box<dyn Read + Send>, String> {
        let req = self.client.get_object().bucket(&self.bucket).key(key);
        let out = self.runtime.block_on(req.send()).map_err(|e| {
            cloud_error::aws(
                &e,
                "s3:GetObject on it (and kms:Decrypt for an SSE-KMS trail)",
                self.endpoint.as_ref(),
            )
        })?;
        Ok(Box::new(Body {
            runtime: self.runtime.handle().clone(),
            stream: out.body,
            chunk: bytes::Bytes::new(),
        }))
    }
}

/// A GetObject body as a blocking reader: a `read` that finds the current chunk used up waits
/// for the next one (on the client's runtime; the workers are not runtime threads).
struct Body {
    runtime: tokio::runtime::Handle,
    stream: ByteStream,
    chunk: bytes::Bytes,
}

impl Read for Body {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.chunk.is_empty() {
            match self.runtime.block_on(self.stream.next()) {
                None => return Ok(0),
                Some(Ok(b)) => self.chunk = b,
                Some(Err(e)) => {
                    return Err(std::io::Error::other(format!(
                        "reading the object body: {}",
                        cloud_error::chain(&e).join(": ")
                    )))
                }
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk.split_to(n));
        Ok(n)
    }
}
