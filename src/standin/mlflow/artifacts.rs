//! The artifact service (`mlflow-artifacts/artifacts/...`): upload, download, list, delete.

use super::*;

impl MlflowStore {
    pub(super) fn artifacts(
        &mut self,
        method: &str,
        rest: &str,
        query: &[(String, String)],
        body: &[u8],
    ) -> MlResult {
        let decoded = percent_decode(rest);
        if decoded.split('/').any(|s| s == "..") {
            return Err(MlErr::invalid("Invalid path"));
        }
        if rest.is_empty() {
            if method != "GET" {
                return Ok(MlflowReply::method_not_allowed_page());
            }
            let path = query
                .iter()
                .find(|(k, _)| k == "path")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            let files = self.list_artifacts(&path, "", false);
            return Ok(if files.is_empty() {
                MlflowReply::empty_json()
            } else {
                MlflowReply::json(&json!({"files": files}))
            });
        }
        match method {
            "PUT" => {
                self.artifacts.insert(decoded, body.to_vec());
                Ok(MlflowReply { status: 200, content_type: "", body: vec![] })
            }
            "GET" => match self.artifacts.get(&decoded) {
                Some(bytes) => Ok(MlflowReply { status: 200, content_type: guess_mime_type(&decoded), body: bytes.clone() }),
                None => Ok(MlflowReply {
                    status: 404,
                    content_type: "application/json",
                    body: format!(
                        "{{\"error_code\":\"RESOURCE_DOES_NOT_EXIST\",\"message\":\"No such artifact: '{decoded}'\",\"sqlstate\":\"KAM00\",\"error_class\":\"RESOURCE_NOT_FOUND\"}}"
                    )
                    .into_bytes(),
                }),
            },
            "DELETE" => {
                let prefix = format!("{decoded}/");
                self.artifacts.retain(|k, _| *k != decoded && !k.starts_with(&prefix));
                Ok(MlflowReply::empty_json())
            }
            _ => Ok(MlflowReply::method_not_allowed_page()),
        }
    }

    /// Entries directly under `root/sub`. With `relative_to_root`, paths include `sub`
    /// (the `artifacts/list` style); otherwise they are names (the artifact-proxy style).
    pub(super) fn list_artifacts(
        &self,
        root: &str,
        sub: &str,
        relative_to_root: bool,
    ) -> Vec<Value> {
        let dir = [root.trim_end_matches('/'), sub.trim_matches('/')]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join("/");
        let prefix = format!("{dir}/");
        let mut seen: BTreeMap<String, Option<usize>> = BTreeMap::new();
        for (k, v) in &self.artifacts {
            if let Some(tail) = k.strip_prefix(&prefix) {
                match tail.split_once('/') {
                    Some((d, _)) => {
                        seen.entry(d.to_owned()).or_insert(None);
                    }
                    None => {
                        seen.insert(tail.to_owned(), Some(v.len()));
                    }
                }
            }
        }
        seen.into_iter()
            .map(|(name, size)| {
                let path = if relative_to_root && !sub.trim_matches('/').is_empty() {
                    format!("{}/{name}", sub.trim_matches('/'))
                } else {
                    name
                };
                match size {
                    Some(n) => json!({"path": path, "is_dir": false, "file_size": n}),
                    None => json!({"path": path, "is_dir": true}),
                }
            })
            .collect()
    }
}

/// MLflow's `_guess_mime_type`: known text extensions (and extension-less `MLmodel`,
/// `MLproject`) are `text/plain`; a few common types by extension; else binary.
pub(super) fn guess_mime_type(path: &str) -> &'static str {
    const TEXT: &[&str] = &[
        "txt",
        "log",
        "err",
        "cfg",
        "conf",
        "cnf",
        "cf",
        "ini",
        "properties",
        "prop",
        "hocon",
        "toml",
        "yaml",
        "yml",
        "xml",
        "json",
        "js",
        "py",
        "py3",
        "csv",
        "tsv",
        "md",
        "rst",
        "MLmodel",
        "mlproject",
    ];
    let name = path.rsplit('/').next().unwrap_or(path);
    let ext = match name.rsplit_once('.') {
        Some((_, e)) if !e.is_empty() => e,
        _ => name,
    };
    if TEXT.contains(&ext) {
        return "text/plain";
    }
    match ext.to_ascii_lowercase().as_str() {
        "html" | "htm" => "text/html",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "pdf" => "application/pdf",
        "gz" => "application/gzip",
        "zip" => "application/zip",
        "tar" => "application/x-tar",
        _ => "application/octet-stream",
    }
}

pub(super) fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_owned())
}
