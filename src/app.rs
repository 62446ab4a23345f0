//! Building and running the server: open the database, bind the listener (port
//! 0 allowed, the bound address is exposed), wire the routes, serve until the
//! shutdown signal, then let open requests finish within a grace period.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::Filter;

use crate::api::status::RequestCounts;
use crate::auth::proxy::TrustedProxies;
use crate::auth::Auth;
use crate::backup::{DbLock, Schedule};
use crate::config::ServeArgs;
use crate::db::{self, Db, DbError};
use crate::engine::Engine;
use crate::security::{self, CorsOrigins, Policy};
use crate::spa::Spa;

/// How long open connections may take to finish once shutdown starts.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// What every handler can reach: one pointer, so that the clone each route
/// takes is one counter increment (it was a dozen, measured at 4 % of a
/// list request).
#[derive(Clone)]
pub struct AppState(Arc<State>);

impl std::ops::Deref for AppState {
    type Target = State;

    fn deref(&self) -> &State {
        &self.0
    }
}

/// The fields of [`AppState`].
pub struct State {
    pub db: Db,
    pub auth: Arc<Auth>,
    pub engine: Engine,
    /// Longest silence of a provider in the middle of an answer.
    pub llm_idle_timeout: Duration,
    /// `""` or `/prefix`: cookie paths and links include it.
    pub base_path: String,
    pub started: Instant,
    /// The scheduled daily backup (admin settings).
    pub backups: Schedule,
    /// When the server started (RFC 3339), for the status page.
    pub started_at: String,
    /// Requests answered, by status class (status page, metrics).
    pub requests: Arc<RequestCounts>,
    /// Whether `<base>/metrics` is served.
    pub metrics: bool,
    /// `--cors-origins`: the other sites whose pages may also use the
    /// cookie-setting auth routes.
    pub cors: Arc<CorsOrigins>,
    /// `--trusted-proxies`: whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Arc<TrustedProxies>,
    /// Asks providers for models while a connection has none.
    pub rediscovery: Arc<crate::service::connections::Rediscovery>,
    /// The readers of uploaded files (their own threads, a time cap).
    pub files: Arc<crate::service::files::Readers>,
    /// The directory sign-in fields fixed by flags or the environment.
    pub signin_flags: Arc<crate::service::signin::Flags>,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot open the database {path}: {source}")]
    Db { path: String, source: DbError },
    #[error("{0}")]
    Config(String),
    #[error("cannot open the database {path}: {source}")]
    Lock {
        path: String,
        source: crate::backup::BackupError,
    },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A server that is bound and ready to run.
pub struct App {
    /// Held while the server runs: `restore` and a second server are refused.
    _lock: DbLock,
    /// The daily backup task, stopped with the server.
    schedule: tokio::task::JoinHandle<()>,
    /// Warns in the log when the database's disk runs low.
    disk_watch: tokio::task::JoinHandle<()>,
    rediscovery: tokio::task::JoinHandle<()>,
    /// Deletes uploads abandoned in a message box (hourly).
    file_sweep: tokio::task::JoinHandle<()>,
    /// Sweeps temporary chats hourly and runs the retention policy daily.
    retention: tokio::task::JoinHandle<()>,
    /// Set with --tls-cert/--tls-key: the server speaks HTTPS only.
    tls: Option<tokio_rustls::TlsAcceptor>,
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
    base_path: String,
    engine: Engine,
    routes: BoxedFilter<(Response,)>,
    limits: crate::listen::Limits,
}

impl App {
    /// Opens the database (creating or upgrading it) and binds the listener.
    pub async fn build(args: &ServeArgs) -> Result<App, StartError> {
        let policy = Arc::new(Policy {
            cors: CorsOrigins::new(&args.cors_origins).map_err(StartError::Config)?,
            tls: args.tls_cert.is_some(),
        });
        let trusted_proxies =
            Arc::new(TrustedProxies::new(&args.trusted_proxies).map_err(StartError::Config)?);
        let path = args.db.clone();
        let auth_config = args.auth_config();
        let lock_path = args.db.clone();
        let lock = tokio::task::spawn_blocking(move || DbLock::acquire(&lock_path))
            .await
            .map_err(|e| StartError::Config(e.to_string()))?
            .map_err(|source| StartError::Lock {
                path: args.db.display().to_string(),
                source,
            })?;
        let signin_flags = Arc::new(args.signin.flags(&args.trusted_proxies));
        let start_flags = signin_flags.clone();
        let (db, auth, signin_problem) = tokio::task::spawn_blocking(move || {
            let db = Db::open(&path)?;
            // Written once, on first start; kept across restarts and upgrades.
            let mut conn = db.pool_conn()?;
            db::setting::get_or_insert(&conn, db::setting::INSTALLED_AT, &db::now().into())?;
            let auth = Auth::new(&auth_config, &conn, db.auth_generation())?;
            let interrupted = db::conversation::mark_interrupted(&conn)?;
            if interrupted > 0 {
                log::warn!(
                    "{interrupted} answers were cut off by a crash; kept with their text as errors"
                );
            }
            let unfinished = db::import::discard_unfinished(&mut conn)?;
            if unfinished > 0 {
                log::warn!("removed {unfinished} imports that a crash left half-written");
            }
            let signin_problem = crate::service::signin::check_at_start(&conn, &start_flags)?;
            Ok::<_, DbError>((db, auth, signin_problem))
        })
        .await
        .map_err(|e| DbError::Task(e.to_string()))
        .and_then(|r| r)
        .map_err(|source| StartError::Db {
            path: args.db.display().to_string(),
            source,
        })?;
        if let Some(problem) = signin_problem {
            return Err(StartError::Config(problem));
        }

        let tls = match (&args.tls_cert, &args.tls_key) {
            (Some(cert), Some(key)) => {
                Some(crate::tls::acceptor(cert, key).map_err(StartError::Config)?)
            }
            (None, None) => None,
            _ => {
                return Err(StartError::Config(
                    "--tls-cert and --tls-key go together".into(),
                ))
            }
        };
        let addr = SocketAddr::new(args.host, args.port);
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| StartError::Bind { addr, source })?;

        if let Some(warning) = security::plain_network_warning(addr.ip(), policy.tls) {
            log::warn!("{warning}");
        }

        let state = AppState(Arc::new(State {
            engine: Engine::new(db.clone(), args.engine_limits()),
            db,
            auth: Arc::new(auth),
            llm_idle_timeout: Duration::from_secs(args.llm_idle_timeout.max(1)),
            base_path: args.base_path.clone(),
            started: Instant::now(),
            backups: Schedule::new(&args.db, args.backup_dir.clone()),
            started_at: db::now(),
            requests: Arc::new(RequestCounts::default()),
            metrics: args.metrics,
            cors: Arc::new(policy.cors.clone()),
            trusted_proxies,
            rediscovery: Arc::default(),
            files: Arc::default(),
            signin_flags,
        }));
        let schedule = tokio::spawn(state.backups.clone().run(state.db.clone()));
        let disk_watch = tokio::spawn(crate::api::status::watch_disk_space(args.db.clone()));
        tokio::spawn(crate::api::connections::bootstrap(
            state.clone(),
            args.bootstrap(),
        ));
        let rediscovery = state
            .rediscovery
            .clone()
            .run(state.db.clone(), state.llm_idle_timeout);
        let rediscovery = tokio::spawn(rediscovery);
        let file_sweep = tokio::spawn(crate::service::files::sweep(state.db.clone()));
        let retention = tokio::spawn(crate::service::retention::background(state.db.clone()));
        Ok(App {
            file_sweep,
            retention,
            _lock: lock,
            schedule,
            disk_watch,
            rediscovery,
            tls,
            listener,
            addr,
            base_path: args.base_path.clone(),
            engine: state.engine.clone(),
            routes: routes(state, &args.base_path, policy),
            limits: args.connection_limits(),
        })
    }

    /// The bound address (the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The web app's URL, base path included.
    pub fn url(&self) -> String {
        let host = match self.addr.ip() {
            ip if ip.is_unspecified() => "127.0.0.1".to_string(),
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
            ip => ip.to_string(),
        };
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{host}:{}{}/", self.addr.port(), self.base_path)
    }

    /// Serves until `shutdown` resolves, then gives open requests
    /// [`SHUTDOWN_GRACE`] to finish.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) {
        let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
        let stopping_engine = self.engine.clone();
        let signal = async move {
            shutdown.await;
            // Stop accepting at once; meanwhile running answers are stopped and
            // saved, which also ends their open streams.
            let _ = stopping_tx.send(());
            tokio::spawn(async move { stopping_engine.shutdown(SHUTDOWN_GRACE).await });
        };
        let engine = self.engine;
        let lock = self._lock;
        let server =
            crate::listen::serve(self.listener, self.tls, self.routes, self.limits, signal);
        let deadline = async move {
            match stopping_rx.await {
                Ok(()) => tokio::time::sleep(SHUTDOWN_GRACE).await,
                Err(_) => std::future::pending().await,
            }
        };
        tokio::select! {
            () = server => log::info!("server stopped"),
            () = deadline => log::warn!(
                "requests still open {}s after shutdown began; closing them",
                SHUTDOWN_GRACE.as_secs()
            ),
        }
        // Answers whose client had gone hold no connection: make sure they are
        // saved before the process exits.
        engine.shutdown(SHUTDOWN_GRACE).await;
        self.schedule.abort();
        self.disk_watch.abort();
        self.rediscovery.abort();
        self.file_sweep.abort();
        self.retention.abort();
        drop(lock);
    }
}

/// Everything the server answers, under the base path: the API trees first
/// (each answering JSON for any path under its prefix), then the web app.
pub fn routes(state: AppState, base_path: &str, policy: Arc<Policy>) -> BoxedFilter<(Response,)> {
    let spa = Arc::new(Spa::new(base_path));
    let requests = state.requests.clone();
    let metrics = if state.metrics {
        crate::api::status::metrics_route(state.clone()).boxed()
    } else {
        warp::any()
            .and_then(|| async { Err::<Response, _>(warp::reject::not_found()) })
            .boxed()
    };
    let all = crate::api::native(state.clone())
        .or(crate::api::compat(state.clone()))
        .unify()
        .or(crate::api::simple(state))
        .unify()
        .or(metrics)
        .unify()
        .or(spa.routes())
        .unify();
    let access_log = warp::log::custom(move |info| {
        requests.record(info.status().as_u16());
        log::info!(
            target: "daehwa::access",
            "{} {} {} {}ms {}",
            info.method(),
            loggable_path(info.path()),
            info.status().as_u16(),
            info.elapsed().as_millis(),
            crate::logging::access_user()
        );
    });
    let served = base_filter(base_path)
        .and(all)
        .map(warp::Reply::into_response);
    security::wrap(policy, served)
        .with(access_log)
        .map(warp::Reply::into_response)
        .boxed()
}

/// A request path as the access log writes it: path segments that are
/// secrets are replaced, so that a log file leaks no key and no share link.
/// An API key appears in seed 004's `DELETE /simple/api-keys/{key}`; a share
/// id, the only thing guarding a share, in `/api/v1/shares/{id}` and the web
/// app's `/s/{id}`.
pub fn loggable_path(path: &str) -> std::borrow::Cow<'_, str> {
    let secret_follows = |segment: &str| segment == "shares" || segment == "s";
    let mut previous = "";
    let mut redacted = false;
    let segments: Vec<&str> = path
        .split('/')
        .map(|segment| {
            let replacement = if segment.starts_with("dk_") {
                Some("dk_[redacted]")
            } else if secret_follows(previous) && !segment.is_empty() {
                Some("[redacted]")
            } else {
                None
            };
            previous = segment;
            replacement.inspect(|_| redacted = true).unwrap_or(segment)
        })
        .collect();
    if redacted {
        std::borrow::Cow::Owned(segments.join("/"))
    } else {
        std::borrow::Cow::Borrowed(path)
    }
}

/// Matches the base path's segments (nothing for `""`).
fn base_filter(base_path: &str) -> BoxedFilter<()> {
    let mut filter = warp::any().boxed();
    for segment in base_path.split('/').filter(|s| !s.is_empty()) {
        // warp's path filter wants a 'static str; the base path is set once per
        // server, so leaking its few bytes is bounded.
        let segment: &'static str = Box::leak(segment.to_owned().into_boxed_str());
        filter = filter.and(warp::path(segment)).boxed();
    }
    filter
}

#[cfg(test)]
mod tests {
    use super::loggable_path;

    #[test]
    fn secrets_in_paths_are_not_logged() {
        for (path, logged) in [
            (
                "/simple/api-keys/dk_abc123",
                "/simple/api-keys/dk_[redacted]",
            ),
            ("/chat/api/v1/shares/Zx9", "/chat/api/v1/shares/[redacted]"),
            (
                "/api/v1/shares/Zx9/clone",
                "/api/v1/shares/[redacted]/clone",
            ),
            ("/s/Zx9", "/s/[redacted]"),
            ("/api/v1/shares", "/api/v1/shares"),
            ("/api/v1/conversations/0190", "/api/v1/conversations/0190"),
        ] {
            assert_eq!(loggable_path(path), logged, "{path}");
        }
    }
}
