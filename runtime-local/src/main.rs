//! The `dd0c-cost` binary: parses the command line and runs the command (see the library's
//! crate documentation for the map).

use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = dd0c_cost::cli::Cli::from_env_and_args();
    let backend = &cli.backend;
    let result = match cli.command {
        dd0c_cost::cli::Command::Normalize(args) => dd0c_cost::normalize::run(args),
        dd0c_cost::cli::Command::Analyze(args) => dd0c_cost::analyze::run(args),
        dd0c_cost::cli::Command::Serve(args) => {
            service(backend, dd0c_cost::serve_cmd::serve(backend, *args))
        }
        dd0c_cost::cli::Command::Migrate => service(backend, dd0c_cost::admin::migrate(backend)),
        dd0c_cost::cli::Command::Tenant(c) => {
            service(backend, dd0c_cost::admin::tenant(backend, c))
        }
        dd0c_cost::cli::Command::Account(c) => {
            service(backend, dd0c_cost::admin::account(backend, c))
        }
        dd0c_cost::cli::Command::Anomalies(c) => {
            service(backend, dd0c_cost::admin::anomalies(backend, c))
        }
        dd0c_cost::cli::Command::Resources(c) => {
            service(backend, dd0c_cost::admin::resources(backend, c))
        }
        dd0c_cost::cli::Command::Invoke(args) => {
            service(backend, dd0c_cost::admin::invoke(backend, args))
        }
        dd0c_cost::cli::Command::Dlq(c) => service(backend, dd0c_cost::admin::dlq(backend, c)),
        dd0c_cost::cli::Command::Catalog(c) => service(backend, dd0c_cost::admin::catalog(c)),
        dd0c_cost::cli::Command::Settings(c) => {
            service(backend, dd0c_cost::admin::settings(backend, c))
        }
        dd0c_cost::cli::Command::Panic(args) => {
            service(backend, dd0c_cost::admin::panic(backend, args))
        }
        dd0c_cost::cli::Command::User(c) => service(backend, dd0c_cost::admin::user(backend, c)),
        dd0c_cost::cli::Command::Zombies(c) => {
            service(backend, dd0c_cost::zombies::zombies(backend, c))
        }
        dd0c_cost::cli::Command::Actions(c) => {
            service(backend, dd0c_cost::actions::actions(backend, c))
        }
        dd0c_cost::cli::Command::Healthcheck(args) => dd0c_cost::health::check(
            &args.process.role,
            &args.process.listen,
            args.process.health_file.as_deref(),
            std::time::Duration::from_secs(args.max_age_seconds),
        ),
        dd0c_cost::cli::Command::Backfill(args) => {
            service(backend, dd0c_cost::trails::backfill_command(backend, args))
        }
    };
    match result {
        Ok(code) => code,
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            let _ = writeln!(std::io::stderr(), "dd0c-cost: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// Runs a command that talks to a backend: logging to stderr (`DD0C_LOG`, default `info`) and
/// traces to `OTEL_EXPORTER_OTLP_ENDPOINT` when set, on a multi-threaded runtime; the last
/// spans are sent before it returns.
fn service(
    backend: &dd0c_cost::cli::BackendArgs,
    command: impl std::future::Future<Output = anyhow::Result<ExitCode>>,
) -> anyhow::Result<ExitCode> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;
    let filter = tracing_subscriber::EnvFilter::try_from_env("DD0C_LOG")
        .unwrap_or_else(|_| "info,sqlx=warn".into());
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let logs = tracing_subscriber::fmt::layer()
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .with_filter(filter);
    let (traces, telemetry) = dd0c_function::trace::install(
        backend.otlp_endpoint.as_deref(),
        &backend.otel_service_name,
    )?
    .unzip();
    tracing_subscriber::registry()
        .with(logs)
        .with(traces)
        .init();
    let outcome = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(command);
    if let Some(telemetry) = telemetry {
        telemetry.shutdown();
    }
    outcome
}

/// `dd0c-cost normalize … | head` closes stdout early; that is the reader's choice, not an error.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
