//! An s3:// store through the `object_store` crate. Small objects are one
//! conditional PUT (`If-None-Match: *`); large ones a multipart upload,
//! which S3 shows under its key only once completed, so a crash leaves no
//! partial object (the parts of an abandoned upload are invisible; a
//! bucket lifecycle rule that aborts incomplete uploads reclaims them).
//! Multipart has no create-if-absent here, so it is preceded by a HEAD; two
//! writers racing on one name upload the same bytes, by construction.

use crate::location::{id_of_key, key_of, OBJECTS};
use crate::{ListedObject, ObjectError, ObjectId, Spooled, StoreSettings};
use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path as Key;
use object_store::{
    ClientConfigKey, ObjectStore as _, ObjectStoreExt as _, PutMode, PutPayload, RetryConfig,
};
use std::sync::Arc;
use tokio::io::AsyncReadExt;

/// The part size of multipart uploads, and the size up to which an object
/// is one PUT. S3's minimum part is 5 MiB.
const PART: u64 = 8 << 20;

pub(crate) struct S3Store {
    name: String,
    bucket: String,
    prefix: String,
    client: Arc<AmazonS3>,
}

impl S3Store {
    pub(crate) fn open(
        name: &str,
        bucket: &str,
        prefix: &str,
        settings: &StoreSettings,
    ) -> Result<S3Store, ObjectError> {
        // Timeouts as settings, not `with_client_options`, which would
        // replace the client options the environment set (allow_http...).
        let millis = |d: std::time::Duration| format!("{}ms", d.as_millis());
        let connect = settings.timeout.min(std::time::Duration::from_secs(5));
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_config(
                AmazonS3ConfigKey::Client(ClientConfigKey::Timeout),
                millis(settings.timeout),
            )
            .with_config(
                AmazonS3ConfigKey::Client(ClientConfigKey::ConnectTimeout),
                millis(connect),
            );
        for (key, value) in &settings.s3 {
            let key: AmazonS3ConfigKey = key.parse().map_err(|_| {
                ObjectError::Settings(format!("{key:?} is not an S3 setting this build knows"))
            })?;
            builder = builder.with_config(key, value);
        }
        let client = builder
            .with_retry(RetryConfig {
                max_retries: 2,
                retry_timeout: settings.timeout * 2,
                ..RetryConfig::default()
            })
            .build()
            .map_err(|e| ObjectError::Settings(e.to_string()))?;
        Ok(S3Store {
            name: name.to_string(),
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
            client: Arc::new(client),
        })
    }

    fn key(&self, relative: &str) -> Key {
        if self.prefix.is_empty() {
            Key::from(relative)
        } else {
            Key::from(format!("{}/{relative}", self.prefix))
        }
    }

    fn error(&self, e: object_store::Error) -> ObjectError {
        use object_store::Error as E;
        let store = self.name.clone();
        if let E::Unauthenticated { source, .. } | E::PermissionDenied { source, .. } = &e {
            return ObjectError::Denied {
                store,
                reason: one_line(&source.to_string()),
            };
        }
        // S3 names the problem only in the XML body of its answer, which
        // object_store passes on as text (for listings, not as NotFound).
        let text = e.to_string();
        let code = between(&text, "<Code>", "</Code>");
        let message = between(&text, "<Message>", "</Message>").unwrap_or_default();
        match code {
            Some("NoSuchBucket") => ObjectError::NoBucket {
                store,
                bucket: self.bucket.clone(),
            },
            Some(
                code @ ("InvalidAccessKeyId"
                | "SignatureDoesNotMatch"
                | "AccessDenied"
                | "InvalidToken"
                | "ExpiredToken"),
            ) => ObjectError::Denied {
                store,
                reason: format!("{code}: {message}"),
            },
            _ => ObjectError::Unavailable {
                store,
                reason: one_line(&text),
            },
        }
    }

    pub(crate) async fn probe(&self) -> Result<(), ObjectError> {
        match self
            .client
            .list_with_delimiter(Some(&self.key(OBJECTS)))
            .await
        {
            Ok(_) => Ok(()),
            // A listing is never "not found": the bucket is.
            Err(object_store::Error::NotFound { .. }) => Err(ObjectError::NoBucket {
                store: self.name.clone(),
                bucket: self.bucket.clone(),
            }),
            Err(e) => Err(self.error(e)),
        }
    }

    pub(crate) async fn upload(&self, spooled: &Spooled) -> Result<(), ObjectError> {
        let object = spooled.object();
        let key = self.key(&key_of(&object.sha256));
        let spool_error = |source| ObjectError::Spool {
            path: spooled.path().to_path_buf(),
            source,
        };
        if object.size <= PART {
            let bytes = tokio::fs::read(spooled.path()).await.map_err(spool_error)?;
            return match self
                .client
                .put_opts(&key, PutPayload::from(bytes), PutMode::Create.into())
                .await
            {
                Ok(_) | Err(object_store::Error::AlreadyExists { .. }) => Ok(()),
                Err(e) => Err(self.error(e)),
            };
        }
        if self.size_of(&object.sha256).await? == Some(object.size) {
            return Ok(());
        }
        let mut upload = self
            .client
            .put_multipart(&key)
            .await
            .map_err(|e| self.error(e))?;
        let mut file = tokio::fs::File::open(spooled.path())
            .await
            .map_err(spool_error)?;
        let result: Result<(), ObjectError> = async {
            let mut left = object.size;
            while left > 0 {
                let mut part = vec![0u8; PART.min(left) as usize];
                file.read_exact(&mut part).await.map_err(spool_error)?;
                left -= part.len() as u64;
                upload
                    .put_part(PutPayload::from(part))
                    .await
                    .map_err(|e| self.error(e))?;
            }
            upload.complete().await.map_err(|e| self.error(e))?;
            Ok(())
        }
        .await;
        if result.is_err() {
            // Best effort: the parts are invisible either way.
            let _ = upload.abort().await;
        }
        result
    }

    pub(crate) async fn size_of(&self, id: &ObjectId) -> Result<Option<u64>, ObjectError> {
        match self.client.head(&self.key(&key_of(id))).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.error(e)),
        }
    }

    pub(crate) async fn read_range(
        &self,
        id: &ObjectId,
        start: u64,
        end: u64,
    ) -> Result<Bytes, ObjectError> {
        match self
            .client
            .get_range(&self.key(&key_of(id)), start..end)
            .await
        {
            Ok(bytes) => Ok(bytes),
            Err(object_store::Error::NotFound { .. }) => Err(ObjectError::Missing(*id)),
            Err(e) => Err(self.error(e)),
        }
    }

    pub(crate) fn list(&self) -> BoxStream<'static, Result<ListedObject, ObjectError>> {
        let strip = if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        };
        let name = self.name.clone();
        self.client
            .list(Some(&self.key(OBJECTS)))
            .filter_map(move |item| {
                let result = match item {
                    Ok(meta) => {
                        let key = meta.location.as_ref();
                        key.strip_prefix(strip.as_str())
                            .and_then(id_of_key)
                            .map(|id| {
                                Ok(ListedObject {
                                    id,
                                    size: meta.size,
                                    modified_ms: meta.last_modified.timestamp_millis(),
                                })
                            })
                    }
                    Err(e) => Some(Err(ObjectError::Unavailable {
                        store: name.clone(),
                        reason: e.to_string(),
                    })),
                };
                async move { result }
            })
            .boxed()
    }

    pub(crate) async fn delete(&self, id: &ObjectId) -> Result<(), ObjectError> {
        match self.client.delete(&self.key(&key_of(id))).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.error(e)),
        }
    }
}

/// The text between the first `open` and the next `close`.
fn between<'t>(text: &'t str, open: &str, close: &str) -> Option<&'t str> {
    let start = text.find(open)? + open.len();
    let end = text[start..].find(close)? + start;
    Some(&text[start..end])
}

/// An error on one line: S3's XML bodies come with line breaks.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_error_bodies_are_read_for_their_code() {
        let body = "Server returned non-2xx status code: 403 Forbidden: <?xml version=\"1.0\"?>\n\
            <Error><Code>InvalidAccessKeyId</Code><Message>The AWS Access Key Id you provided \
            does not exist in our records.</Message></Error>";
        assert_eq!(
            between(body, "<Code>", "</Code>"),
            Some("InvalidAccessKeyId")
        );
        assert_eq!(between(body, "<Nope>", "</Nope>"), None);
        assert!(!one_line(body).contains('\n'));
    }
}
