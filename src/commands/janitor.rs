//! `janitor`: registry leftovers of earlier runs (names with the suite's `hv-<timestamp>-`
//! token), listed or deleted.

use super::Exit;
use crate::config::Config;

/// Lists (and with `delete` removes) registry leftovers older than `older_than`.
pub async fn janitor(older_than: std::time::Duration, delete: bool) -> Exit {
    use crate::mlflow::janitor;
    let built = match Config::from_env() {
        Ok(c) => crate::fixtures::Env::build(c)
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    let env = match built {
        Ok(e) => e,
        Err(e) => {
            eprintln!("{e}");
            return Exit::Config;
        }
    };
    let (client, direct) = env.cleanup_clients();
    let leftovers = match janitor::find(&client, older_than).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot list leftovers: {e}");
            return Exit::Failed;
        }
    };
    for l in &leftovers {
        println!(
            "{:<17} {:<64} created {}",
            l.kind,
            l.name,
            l.created.format("%Y-%m-%d %H:%M:%S UTC")
        );
    }
    let purge = janitor::purge_command(&leftovers);
    if let Some(cmd) = &purge {
        println!(
            "deleted experiments stay in MLflow's store until purged (the REST API cannot): {cmd}"
        );
    }
    if !delete {
        println!(
            "{} leftover(s) older than {older_than:?}; dry run (add --yes to remove them)",
            leftovers.len()
        );
        return Exit::Ok;
    }
    let problems = janitor::delete(&client, direct.as_ref(), &leftovers).await;
    for p in &problems {
        eprintln!("could not remove {p}");
    }
    println!(
        "removed {} of {} leftover(s)",
        leftovers.len() - problems.len(),
        leftovers.len()
    );
    if problems.is_empty() {
        Exit::Ok
    } else {
        Exit::Failed
    }
}
