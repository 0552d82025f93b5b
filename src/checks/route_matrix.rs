//! The route matrix (checklist area 4): every MLflow endpoint of the profile's release
//! (its endpoint catalogue, `platform/mlflow-endpoints/<release>.json`) × every path spelling
//! of contract section 3 × {no key, a valid key, the read-only key on writes}. Each request
//! is the catalogue's probe, which MLflow's own handler answers without writing.
//!
//! One check per spelling and role, each asserting one contract line: no key is 401 on every
//! spelling (key required); on the spellings the profile routes to MLflow a valid key reaches
//! MLflow's handler (the release's own answer to the probe; another answer that is no
//! routing failure is left to the proxy's other lines), not a routing 404 or 405 (that
//! spelling's line); the read-only key's writes are 403 where the profile
//! enforces scopes and reach MLflow otherwise (write scopes). Every cell is evidence: the
//! cells that answered as expected in one note, each other cell as the exchange itself.

use super::{expect, keyless_symptom};
use crate::catalogue::Spelling;
use crate::check::{Check, CheckFuture, CheckSpec, Component, Failure, Line, Symptom};
use crate::config::Profile;
use crate::http::{Auth, Exchange, Req};
use crate::mlflow::endpoints::{Catalogue, Endpoint};
use reqwest::Method;

/// Who sends a column's requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::Display)]
#[strum(serialize_all = "kebab-case")]
pub enum Role {
    NoKey,
    ValidKey,
    /// The read-only key, on the endpoints that write.
    ReadOnly,
}

/// One column of the matrix: a spelling and a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub spelling: Spelling,
    pub role: Role,
}

impl std::fmt::Display for Column {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.spelling, self.role)
    }
}

/// Requests in flight at once within one column on a live platform.
const IN_FLIGHT: usize = 8;
/// On the stand-in, whose delays are timers (a slow registry, a slow MLflow), not work.
const IN_FLIGHT_STANDIN: usize = 32;
/// Failing cells written out in full in the failure message (all are in the evidence).
const SHOWN: usize = 6;

pub fn checks(profile: &Profile) -> Vec<CheckSpec> {
    let mut v = Vec::new();
    for spelling in Spelling::all() {
        v.push(column(
            Column {
                spelling,
                role: Role::NoKey,
            },
            "every MLflow endpoint refuses a request without a key (contract section 3)",
            Line::KeyRequiredEverywhere,
        ));
    }
    for spelling in Spelling::all().filter(|s| profile.routes(*s)) {
        v.push(column(
            Column {
                spelling,
                role: Role::ValidKey,
            },
            "every MLflow endpoint answers a valid key as MLflow does (contract sections 6 and 10)",
            Line::routed(spelling),
        ));
        v.push(column(
            Column {
                spelling,
                role: Role::ReadOnly,
            },
            "every MLflow write refuses the read-only key where scopes are enforced, and reaches MLflow elsewhere (contract section 3)",
            Line::WriteScopes,
        ));
    }
    v
}

fn column(col: Column, title: &str, line: Line) -> CheckSpec {
    CheckSpec::case(
        super::mlflow_proxy::AREA,
        "route_matrix",
        Component::Api,
        format!("{}…: {title}", col.spelling.prefix()),
        col,
        cells,
    )
    .line(line)
    .reads()
}

/// What a cell must get.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Want {
    /// The API's own refusal of a missing key.
    KeyRequired,
    /// The release's answer to the probe.
    Mlflow(u16, Option<String>),
    /// 403 `{"error": "FORBIDDEN"}`.
    Forbidden,
}

impl Want {
    fn holds(&self, ex: &Exchange) -> bool {
        match self {
            Want::KeyRequired => ex.status == 401,
            Want::Mlflow(status, code) => {
                ex.status == *status
                    && !ex.is_html()
                    && ex
                        .json()
                        .and_then(|v| v.get("error_code")?.as_str().map(str::to_owned))
                        == *code
            }
            Want::Forbidden => {
                ex.status == 403
                    && ex
                        .json()
                        .and_then(|v| v.get("error")?.as_str().map(str::to_owned))
                        .as_deref()
                        == Some("FORBIDDEN")
            }
        }
    }

    fn describe(&self) -> String {
        match self {
            Want::KeyRequired => "401".into(),
            Want::Mlflow(s, Some(code)) => format!("{s} {code}"),
            Want::Mlflow(s, None) => format!("{s}"),
            Want::Forbidden => "403 FORBIDDEN".into(),
        }
    }
}

/// The probe's path on the column's spelling.
fn path_on(e: &Endpoint, col: Column) -> String {
    let rest = e
        .probe
        .path
        .strip_prefix("/api/2.0/")
        .unwrap_or(&e.probe.path);
    format!("{}{rest}", col.spelling.prefix())
}

/// The request of a cell: the probe on the column's spelling.
fn request(e: &Endpoint, col: Column, auth: &Auth) -> Req {
    let mut req = Req::new(e.method.parse().unwrap_or(Method::GET), path_on(e, col));
    if let Some(body) = &e.probe.body {
        req = req.raw_body(body.as_bytes().to_vec(), e.probe.content_type.as_deref());
    }
    req.auth(auth.clone())
}

fn cells(c: &mut Check, col: Column) -> CheckFuture<'_> {
    Box::pin(async move {
        let env = c.env.clone();
        let profile = env.profile();
        let release = crate::config::MlflowRelease::of(profile);
        let catalogue = Catalogue::cached(release);
        let enforced = profile.scopes.write_scopes_enforced;
        let auth = match col.role {
            Role::NoKey => Auth::None,
            Role::ValidKey => Auth::Bearer(env.keys.primary.clone()),
            Role::ReadOnly => Auth::Bearer(env.key(crate::catalogue::KeyRole::ReadOnly)?),
        };
        let keyed_read = match col.role {
            Role::ReadOnly => Some(read_only_preconditions(c, catalogue, col, &auth).await?),
            // The key must get through first: a key the platform rejects is the auth layer's
            // line, and the column's requests would only load a platform already failing.
            Role::ValidKey => {
                let read = rpc(catalogue, "searchRegisteredModels");
                let ex = c.registry(request(read, col, &auth)).await?;
                got_through(c, &ex, |a| request(read, col, a), &auth).await?;
                if routing_failure(&ex) {
                    let f = Failure::failed(
                        format!("MLflow's answer to {} {}", read.method, read.path),
                        expect::describe(&ex),
                    );
                    return Err(unrouted(f, &ex, col.spelling));
                }
                Some(ex)
            }
            Role::NoKey => None,
        };
        let rows: Vec<&Endpoint> = catalogue
            .spelled()
            .filter(|e| col.role != Role::ReadOnly || e.writes)
            .collect();
        // A live key's hourly budget is the platform's: the matrix never spends what the rest
        // of the run (and the key's other users) need.
        let spellings = profile.proxy.routed_spellings.len().max(1);
        if let Some(reason) = keyed_read
            .as_ref()
            .and_then(|ex| over_budget(ex, rows.len() * spellings))
        {
            return Err(Failure::skipped(reason));
        }
        let want = |e: &Endpoint| match col.role {
            Role::NoKey => Want::KeyRequired,
            Role::ReadOnly if enforced => Want::Forbidden,
            _ => {
                let a = e.answer_under(!col.spelling.is_api());
                Want::Mlflow(a.status, a.error_code.clone())
            }
        };
        // Reaching MLflow's handler is this column's line; another answer than the release's
        // that is no routing failure (an MLflow error of another kind, the API's 500 over
        // MLflow's 404) is evidence for the proxy's other lines (errors passed through,
        // artifacts), which their own checks assert. MLflow not answering blocks the column.
        let mut otherwise = Vec::new();
        let http = env.http.clone();
        let base = env.registry_url().clone();
        // In rounds: a round that shows the column cannot be judged (no answer, MLflow not
        // answering, the key not getting through) ends the sending; its cells block it below.
        let in_flight = if env.standin().is_some() {
            IN_FLIGHT_STANDIN
        } else {
            IN_FLIGHT
        };
        let mut answered: Vec<(usize, Result<Exchange, crate::http::HttpError>)> = Vec::new();
        for round in (0..rows.len()).collect::<Vec<_>>().chunks(in_flight * 2) {
            let requests: Vec<Req> = round
                .iter()
                .map(|&i| request(rows[i], col, &auth))
                .collect();
            // An answer that shows the column cannot be judged (MLflow not answering, the
            // key not getting through). (A 403 is the read-only key's expected answer to a
            // write.)
            let unjudgeable = |ex: &Exchange| {
                matches!(ex.status, 502..=504)
                    || c.sink().observer().mlflow_not_answering(ex)
                    || (col.role != Role::NoKey
                        && (ex.status == 401
                            || super::KeyDecision::judged(c, ex) == super::KeyDecision::Undecided))
            };
            // A request that timed out beside the others of its round goes again alone: on
            // a platform that serves one request at a time, the matrix's own queue is no
            // cell's verdict (nor is it once another answer ended the column).
            let got: Vec<(usize, Result<Exchange, crate::http::HttpError>)> = round
                .iter()
                .copied()
                .zip(
                    http.send_batch_until(&base, requests, in_flight, unjudgeable)
                        .await,
                )
                .filter_map(|(i, a)| a.map(|a| (i, a)))
                .collect();
            let stop = got.len() < round.len()
                || got.iter().any(|(_, a)| match a {
                    Err(_) => true,
                    Ok(ex) => unjudgeable(ex),
                });
            answered.extend(got);
            if stop {
                break;
            }
        }
        answered.sort_by_key(|(i, _)| *i);
        let answers = answered.into_iter().map(|(i, a)| (rows[i], a));
        let sink = c.sink();
        let mut column = crate::check::MatrixColumn {
            column: col.to_string(),
            release: catalogue.release.clone(),
            ..Default::default()
        };
        let mut held = Vec::new();
        let mut failing: Vec<(String, Exchange)> = Vec::new();
        let mut forbidden: Option<(String, Exchange)> = None;
        for (e, answer) in answers {
            let cell = format!("{} {}", e.method, path_on(e, col));
            let ex = match answer {
                Ok(ex) => ex,
                Err(err) => {
                    sink.unanswered("registry", auth.describe(), &err);
                    return Err(Failure::from(err).blocked(format!("an answer to {cell}")));
                }
            };
            // A request sent again on a fresh connection (the pooled one closed under it) is
            // evidence of the host's behaviour whatever the cell's verdict.
            if ex.retried.is_some() {
                sink.answered("registry", &ex);
            }
            let w = want(e);
            let counts = column.families.entry(e.family().to_owned()).or_default();
            counts.1 += 1;
            if w.holds(&ex) {
                counts.0 += 1;
                held.push(format!("{cell} → {}", ex.status));
                continue;
            }
            // The valid key refused a write for its scopes: that cell cannot show whether the
            // write reaches MLflow (the key's line, the write-forbidden fault's evidence).
            if col.role == Role::ValidKey && e.writes && ex.status == 403 {
                if forbidden.is_none() {
                    sink.answered("registry", &ex);
                }
                forbidden.get_or_insert((cell, ex));
                continue;
            }
            // Reached MLflow: the key got through (a cell the auth layer refused or could not
            // decide never reached it, and blocks the column below) and MLflow answered.
            if matches!(w, Want::Mlflow(..))
                && !routing_failure(&ex)
                && !matches!(ex.status, 502..=504)
                && !sink.observer().mlflow_not_answering(&ex)
                && (col.role == Role::NoKey
                    || super::KeyDecision::judged(c, &ex) == super::KeyDecision::Accepted)
            {
                counts.0 += 1;
                otherwise.push(format!(
                    "{cell} → {} (MLflow {} answers {})",
                    ex.status,
                    catalogue.release,
                    w.describe()
                ));
                continue;
            }
            column.failing.push(crate::check::MatrixCell {
                family: e.family().to_owned(),
                request: cell.clone(),
                status: ex.status,
                want: w.describe(),
            });
            if ex.retried.is_none() {
                sink.answered("registry", &ex);
            }
            failing.push((format!("{cell}: {} (want {})", ex.status, w.describe()), ex));
        }
        if !otherwise.is_empty() {
            c.note(
                "registry",
                format!(
                    "{} cells of {col} reached MLflow and were answered otherwise than MLflow {} answers",
                    otherwise.len(),
                    catalogue.release
                ),
                0.0,
                Ok(otherwise.join("\n")),
            );
        }
        let first_family = column.failing.first().map(|c| c.family.clone());
        c.matrix(column);
        c.measure(
            "cells",
            (held.len() + otherwise.len() + failing.len()) as f64,
        );
        c.measure("cells_failing", failing.len() as f64);
        c.note(
            "registry",
            format!(
                "{} cells of {col} answered as expected (MLflow {})",
                held.len(),
                catalogue.release
            ),
            0.0,
            Ok(held.join("\n")),
        );
        let Some((_, first)) = failing.first() else {
            return match forbidden {
                Some((cell, ex)) => Err(Failure::failed(
                    format!("MLflow's answer to {cell}"),
                    expect::describe(&ex),
                )
                .symptom(Symptom::WriteForbidden)
                .blocked("the valid key's write scope")),
                None => Ok(()),
            };
        };
        // A cell the auth layer could not decide, or whose MLflow did not answer, blocks the
        // column: its own symptoms name the cause.
        if col.role != Role::NoKey {
            super::key_got_through(c, first)?;
            if matches!(first.status, 502 | 504) || c.sink().observer().mlflow_not_answering(first)
            {
                return Err(Failure::failed("MLflow's answer", expect::describe(first))
                    .blocked("MLflow answering behind the route"));
            }
        }
        let auth_failure_status = c.env.profile().auth.failure_status;
        let listed: Vec<&str> = failing
            .iter()
            .take(SHOWN)
            .map(|(s, _)| s.as_str())
            .collect();
        let more = failing.len().saturating_sub(SHOWN);
        let actual = format!(
            "{} of {} cells otherwise: {}{}",
            failing.len(),
            held.len() + failing.len(),
            listed.join("; "),
            if more > 0 {
                format!("; and {more} more (evidence)")
            } else {
                String::new()
            }
        );
        let expected = match col.role {
            Role::NoKey => "401 on every endpoint without a key".to_owned(),
            Role::ValidKey => format!(
                "MLflow {}'s own answer on every endpoint",
                catalogue.release
            ),
            Role::ReadOnly if enforced => "403 FORBIDDEN on every write".to_owned(),
            Role::ReadOnly => format!("MLflow {}'s own answer on every write", catalogue.release),
        };
        let f = Failure::failed(expected, actual);
        // The spelling reaches MLflow (its registry read did), yet some endpoints get no route:
        // those are not proxied, the line of their family (a method of the artifact service
        // refused, a family left out), not the spelling's.
        if col.role != Role::NoKey
            && !(col.role == Role::ReadOnly && enforced)
            && failing.iter().all(|(_, ex)| routing_failure(ex))
        {
            return Err(
                f.on_line(if first_family.as_deref() == Some("mlflow-artifacts") {
                    Line::ArtifactsProxied
                } else {
                    Line::ProxyTracking
                }),
            );
        }
        Err(match col.role {
            Role::NoKey => {
                // Registry data without a key says it most plainly; any answer from behind
                // the auth layer says the spelling demands no key.
                let said: Vec<Symptom> = failing
                    .iter()
                    .filter_map(|(_, ex)| keyless_symptom(ex, route_of(ex), auth_failure_status))
                    .collect();
                let data = said
                    .iter()
                    .find(|s| matches!(s, Symptom::DataWithoutKey { .. }));
                match data.or(said.first()) {
                    Some(s) => f.symptom(s.clone()),
                    None => f,
                }
            }
            Role::ValidKey => unrouted(f, first, col.spelling),
            _ => f,
        })
    })
}

/// The key got through the auth layer ([`super::key_got_through`]). A key refused as Bearer
/// is first sent once more as `X-API-Key`, the contract's other header form: that answer is
/// evidence which tells a key the auth service rejects (refused in every form) from a Bearer
/// form the API mishandles (the key-formats line, which its own checks verify).
async fn got_through(
    c: &mut Check,
    ex: &Exchange,
    again: impl FnOnce(&Auth) -> Req,
    auth: &Auth,
) -> Result<(), Failure> {
    if let Auth::Bearer(key) = auth
        && super::KeyDecision::judged(c, ex) == super::KeyDecision::Rejected
    {
        let _ = c.registry(again(&Auth::XApiKey(key.clone()))).await;
    }
    super::key_got_through(c, ex)
}

/// What the read-only column stands on: the spelling demands a key (a keyless write reaching
/// MLflow verifies no scope: the key-required line's), and the read-only key reaches MLflow
/// on a read (a route the spelling lacks is that spelling's line, a key the platform rejects
/// the auth layer's).
async fn read_only_preconditions(
    c: &mut Check,
    catalogue: &Catalogue,
    col: Column,
    auth: &Auth,
) -> Result<Exchange, Failure> {
    // Registry data every release serves: experiments/create refuses the probe's body
    // without writing, registered-models/search lists.
    let write = rpc(catalogue, "createExperiment");
    let keyless = c.registry(request(write, col, &Auth::None)).await?;
    let status = c.env.profile().auth.failure_status;
    if let Some(s) = keyless_symptom(&keyless, route_of(&keyless), status) {
        return Err(
            Failure::failed("401 to a write without a key", expect::describe(&keyless))
                .symptom(s)
                .blocked_on("the spelling demanding a key", Line::KeyRequiredEverywhere),
        );
    }
    let read = rpc(catalogue, "searchRegisteredModels");
    let ex = c.registry(request(read, col, auth)).await?;
    got_through(c, &ex, |a| request(read, col, a), auth)
        .await
        .map_err(|f| f.blocked("the read-only key getting through on a read"))?;
    let want = Want::Mlflow(read.answer.status, read.answer.error_code.clone());
    if !want.holds(&ex) {
        let f = Failure::failed(
            format!("MLflow's answer to a read ({})", want.describe()),
            expect::describe(&ex),
        );
        let f = unrouted(f, &ex, col.spelling);
        return Err(f.blocked_on(
            "the read-only key reaching MLflow on a read",
            Line::routed(col.spelling),
        ));
    }
    Ok(ex)
}

/// Requests of the key left for the rest of the run after the matrix (its other checks).
const RUN_RESERVE: u64 = 200;

/// Why a key's columns must not be sent: its `X-RateLimit-Remaining` this hour is less than
/// the `needed` requests of its columns plus what the rest of the run needs. `None` when
/// there is room, or when the answer carries no limiter header (the limiter's own checks
/// say so).
fn over_budget(ex: &Exchange, needed: usize) -> Option<String> {
    let left: u64 = ex.header("x-ratelimit-remaining")?.trim().parse().ok()?;
    let needed = needed as u64;
    (left < needed + RUN_RESERVE).then(|| {
        format!(
            "the key has {left} requests left this hour (X-RateLimit-Remaining); its matrix columns need {needed} and the rest of the run about {RUN_RESERVE}: use a key with a higher limit, or run again after the window resets"
        )
    })
}

/// The API's own 404 (`{"detail"}`, no MLflow `error_code`) is the spelling without a route;
/// MLflow's router's `ENDPOINT_NOT_FOUND` or an HTML page is MLflow reached at a path it does
/// not serve (the proxy's rewrite), which that answer's own symptoms name.
fn unrouted(f: Failure, ex: &Exchange, spelling: Spelling) -> Failure {
    if ex.status == 404 && ex.detail().is_some() && !has_error_code(ex) {
        f.symptom(Symptom::SpellingUnrouted { spelling })
    } else {
        f
    }
}

/// The endpoint of an RPC every release serves (its GET, when it has several methods).
fn rpc<'a>(catalogue: &'a Catalogue, name: &str) -> &'a Endpoint {
    catalogue
        .spelled()
        .filter(|e| e.rpc.as_deref() == Some(name))
        .min_by_key(|e| e.method != "GET")
        .unwrap_or_else(|| panic!("MLflow {} serves {name}", catalogue.release))
}

/// No route to an MLflow handler: a 404 or 405 that is not an MLflow handler's own answer
/// (the API's `{"detail"}`, an HTML page, or `ENDPOINT_NOT_FOUND`, MLflow's router's code:
/// the release serves every endpoint of its catalogue).
fn routing_failure(ex: &Exchange) -> bool {
    matches!(ex.status, 404 | 405)
        && ex
            .json()
            .and_then(|v| v.get("error_code")?.as_str().map(str::to_owned))
            .is_none_or(|code| code == "ENDPOINT_NOT_FOUND")
}

/// MLflow's error shape: the request reached an MLflow handler.
/// The path an exchange was sent to (its request line's second word).
fn route_of(ex: &Exchange) -> &str {
    ex.line.split_whitespace().nth(1).unwrap_or("")
}

fn has_error_code(ex: &Exchange) -> bool {
    ex.json()
        .is_some_and(|v| v.get("error_code").is_some_and(|c| c.is_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered_with_remaining(left: Option<&str>) -> Exchange {
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(v) = left {
            headers.insert("x-ratelimit-remaining", v.parse().unwrap());
        }
        Exchange {
            counted: Default::default(),
            line: "GET /api/mlflow/api/2.0/mlflow/registered-models/search".into(),
            auth: "Authorization: Bearer".into(),
            status: 200,
            headers,
            body: b"{}".to_vec(),
            latency: std::time::Duration::from_millis(5),
            secrets: Vec::new(),
            retried: None,
            sent: None,
        }
    }

    #[test]
    fn a_key_short_of_the_matrix_and_the_run_is_spared() {
        // 246 cells (82 endpoints on 3 spellings) and the run's reserve.
        let short = over_budget(&answered_with_remaining(Some("300")), 246);
        assert!(
            short
                .as_deref()
                .is_some_and(|r| r.contains("300 requests left"))
        );
        assert_eq!(
            over_budget(&answered_with_remaining(Some("99000")), 246),
            None
        );
        // Without the limiter's header the columns run (the limiter's checks say why).
        assert_eq!(over_budget(&answered_with_remaining(None), 246), None);
        assert_eq!(
            over_budget(&answered_with_remaining(Some("many")), 246),
            None
        );
    }
}
