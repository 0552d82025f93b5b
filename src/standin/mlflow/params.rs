//! Request validation: parameters from the query string or the JSON body, checked and
//! converted as MLflow does (its error messages included), filters and page tokens.

use super::*;

/// Request parameters: the query string for GET, the JSON body otherwise.
pub(super) struct Params(pub(super) Map<String, Value>);

pub(super) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::Bool(_) => "bool",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
        Value::Null => "NoneType",
    }
}

impl Params {
    pub(super) fn opt_str(&self, name: &str) -> Result<Option<String>, MlErr> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(MlErr::invalid(format!(
                "Invalid value {other} for parameter '{name}' supplied:  Hint: Value was of type '{}'. {PARAM_DOCS}",
                type_name(other)
            ))),
        }
    }
    pub(super) fn str(&self, name: &str) -> Result<String, MlErr> {
        match self.opt_str(name)? {
            Some(s) if !s.is_empty() => Ok(s),
            _ => Err(MlErr::invalid(format!(
                "Missing value for required parameter '{name}'. {PARAM_DOCS}"
            ))),
        }
    }
    pub(super) fn opt_i64(&self, name: &str) -> Result<Option<i64>, MlErr> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) if n.is_i64() => Ok(n.as_i64()),
            // Query-string values arrive as strings.
            Some(Value::String(s)) => s.parse::<i64>().map(Some).map_err(|_| {
                MlErr::invalid(format!("Invalid value \"{s}\" for parameter '{name}' supplied:  Hint: Value was of type 'str'. {PARAM_DOCS}"))
            }),
            Some(other) => Err(MlErr::invalid(format!(
                "Invalid value {other} for parameter '{name}' supplied:  Hint: Value was of type '{}'. {PARAM_DOCS}",
                type_name(other)
            ))),
        }
    }
    pub(super) fn f64(&self, name: &str) -> Result<f64, MlErr> {
        match self.0.get(name) {
            None | Some(Value::Null) => Err(MlErr::invalid(format!(
                "Missing value for required parameter '{name}'. {PARAM_DOCS}"
            ))),
            Some(Value::Number(n)) => Ok(n.as_f64().unwrap_or(f64::NAN)),
            Some(other) => Err(MlErr::invalid(format!(
                "Invalid value {other} for parameter '{name}' supplied:  Hint: Value was of type '{}'. {PARAM_DOCS}",
                type_name(other)
            ))),
        }
    }
    pub(super) fn i64_required(&self, name: &str) -> Result<i64, MlErr> {
        self.opt_i64(name)?.ok_or_else(|| {
            MlErr::invalid(format!(
                "Missing value for required parameter '{name}'. {PARAM_DOCS}"
            ))
        })
    }
    pub(super) fn tags(&self, name: &str) -> Result<Vec<(String, String)>, MlErr> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(vec![]),
            Some(Value::Array(items)) => items
                .iter()
                .map(|t| {
                    let k = t.get("key").and_then(Value::as_str);
                    let v = t.get("value").and_then(Value::as_str).unwrap_or("");
                    k.map(|k| (k.to_owned(), v.to_owned())).ok_or_else(|| {
                        MlErr::invalid(format!(
                            "Missing value for required parameter '{name}[].key'. {PARAM_DOCS}"
                        ))
                    })
                })
                .collect(),
            Some(other) => Err(MlErr::invalid(format!(
                "Invalid value {other} for parameter '{name}' supplied:  Hint: Value was of type '{}'. {PARAM_DOCS}",
                type_name(other)
            ))),
        }
    }
    pub(super) fn max_results(&self, default: Option<i64>) -> Result<i64, MlErr> {
        let v = self.opt_i64("max_results")?.or(default).unwrap_or(0);
        if v <= 0 {
            return Err(MlErr::invalid(format!(
                "Invalid value {v} for parameter 'max_results' supplied. It must be a positive integer"
            )));
        }
        Ok(v)
    }
}

pub(super) fn max_len(field: &str, value: &str, max: usize) -> Result<(), MlErr> {
    if value.chars().count() > max {
        return Err(MlErr::invalid(format!(
            "'{field}' exceeds the maximum length of {max} characters"
        )));
    }
    Ok(())
}

pub(super) fn parse_version(version: &str) -> Result<u64, MlErr> {
    version.parse::<u64>().map_err(|_| {
        MlErr::invalid(format!(
            "Parameter 'version' must be an integer, got '{version}'."
        ))
    })
}

pub(super) fn run_status(s: &str) -> Option<&'static str> {
    match s {
        "RUNNING" | "1" => Some("RUNNING"),
        "SCHEDULED" | "2" => Some("SCHEDULED"),
        "FINISHED" | "3" => Some("FINISHED"),
        "FAILED" | "4" => Some("FAILED"),
        "KILLED" | "5" => Some("KILLED"),
        _ => None, // MLflow silently ignores an invalid status
    }
}

pub(super) fn page_offset(p: &Params) -> Result<usize, MlErr> {
    use base64_lite::decode_offset;
    match p.opt_str("page_token")? {
        None => Ok(0),
        Some(t) if t.is_empty() => Ok(0),
        Some(t) => decode_offset(&t).ok_or_else(|| {
            MlErr::invalid(format!("Invalid page token, could not base64-decode: {t}"))
        }),
    }
}

/// `name = 'x'` or `name LIKE 'x%'` filters, the two forms the suite uses.
pub(super) enum NameFilter {
    Eq(String),
    Like(String),
}

impl NameFilter {
    pub(super) fn matches(&self, name: &str) -> bool {
        match self {
            NameFilter::Eq(n) => n == name,
            NameFilter::Like(pattern) => like(pattern, name),
        }
    }
}

pub(super) fn parse_name_filter(f: &str) -> Option<NameFilter> {
    let f = f.trim();
    let rest = f.strip_prefix("name")?.trim_start();
    let (like_op, rest) = if let Some(r) = rest.strip_prefix('=') {
        (false, r)
    } else if let Some(r) = rest
        .strip_prefix("LIKE")
        .or_else(|| rest.strip_prefix("like"))
        .or_else(|| rest.strip_prefix("ILIKE"))
    {
        (true, r)
    } else {
        return None;
    };
    let v = rest
        .trim()
        .trim_matches(|c| c == '\'' || c == '"')
        .to_owned();
    Some(if like_op {
        NameFilter::Like(v)
    } else {
        NameFilter::Eq(v)
    })
}

/// SQL LIKE with `%` only.
pub(super) fn like(pattern: &str, s: &str) -> bool {
    let parts: Vec<&str> = pattern.split('%').collect();
    if parts.len() == 1 {
        return pattern == s;
    }
    let mut rest = s;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else if let Some(pos) = rest.find(part) {
            rest = &rest[pos + part.len()..];
        } else {
            return false;
        }
    }
    true
}

/// MLflow page tokens are base64 of `{"offset": N}`.
pub(super) mod base64_lite {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    pub fn encode_offset(n: usize) -> String {
        encode(format!("{{\"offset\": {n}}}").as_bytes())
    }

    pub fn decode_offset(t: &str) -> Option<usize> {
        let bytes = decode(t)?;
        let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        v.get("offset")?.as_u64().map(|n| n as usize)
    }

    pub(super) fn encode(input: &[u8]) -> String {
        let mut out = String::new();
        for chunk in input.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    pub(super) fn decode(t: &str) -> Option<Vec<u8>> {
        let mut bits = 0u32;
        let mut n = 0;
        let mut out = Vec::new();
        for c in t.bytes().filter(|c| *c != b'=') {
            let v = ALPHABET.iter().position(|a| *a == c)? as u32;
            bits = (bits << 6) | v;
            n += 6;
            if n >= 8 {
                n -= 8;
                out.push((bits >> n) as u8);
                bits &= (1 << n) - 1;
            }
        }
        Some(out)
    }

    #[cfg(test)]
    #[test]
    pub(super) fn offsets_round_trip_like_mlflow() {
        assert_eq!(encode_offset(1), "eyJvZmZzZXQiOiAxfQ==");
        assert_eq!(decode_offset("eyJvZmZzZXQiOiAxfQ=="), Some(1));
    }
}
