//! `daehwa service install|uninstall|start|stop`: daehwa as a Windows service
//! (windows-service crate). The service manager runs `daehwa.exe service run
//! [serve options]`; its Stop feeds the same graceful shutdown as Ctrl-C, so
//! running answers are saved before the process ends.

use daehwa::config::ServiceAction;

/// The service's name in the service manager (`sc query daehwa`).
#[cfg_attr(not(windows), allow(dead_code))]
pub const SERVICE_NAME: &str = "daehwa";

#[cfg(not(windows))]
pub fn run(_action: ServiceAction) -> Result<(), String> {
    Err("`daehwa service` manages a Windows service; on Linux use systemd (see the README)".into())
}

#[cfg(windows)]
pub fn run(action: ServiceAction) -> Result<(), String> {
    windows::run(action)
}

#[cfg(windows)]
mod windows {
    use std::ffi::{OsStr, OsString};
    use std::sync::{Mutex, OnceLock};
    use std::time::{Duration, Instant};

    use clap::{CommandFactory, FromArgMatches};
    use daehwa::config::{self, ServeOnly, ServiceAction};
    use windows_service::service::{
        ServiceAccess, ServiceControl, ServiceControlAccept, ServiceErrorControl, ServiceExitCode,
        ServiceInfo, ServiceStartType, ServiceState, ServiceStatus, ServiceType,
    };
    use windows_service::service_control_handler::{self, ServiceControlHandlerResult};
    use windows_service::service_manager::{ServiceManager, ServiceManagerAccess};
    use windows_service::{define_windows_service, service_dispatcher};

    use super::SERVICE_NAME;

    const SERVICE_TYPE: ServiceType = ServiceType::OWN_PROCESS;

    /// The serve options of `service run`, handed to the service's main.
    static SERVE_ARGS: OnceLock<Vec<String>> = OnceLock::new();

    /// The message of a failed service call, with the system's own reason
    /// (windows-service's message alone is "IO error in winapi call").
    fn err(what: &str) -> impl FnOnce(windows_service::Error) -> String + '_ {
        move |e| match std::error::Error::source(&e) {
            Some(cause) => format!("{what}: {cause} (run as Administrator?)"),
            None => format!("{what}: {e} (run as Administrator?)"),
        }
    }

    /// Windows' ERROR_SERVICE_ALREADY_RUNNING.
    const ALREADY_RUNNING: i32 = 1056;

    pub fn run(action: ServiceAction) -> Result<(), String> {
        match action {
            ServiceAction::Install { serve_args } => install(serve_args),
            ServiceAction::Uninstall => uninstall(),
            ServiceAction::Start => {
                let manager = manager(ServiceManagerAccess::CONNECT)?;
                let service = manager
                    .open_service(
                        SERVICE_NAME,
                        ServiceAccess::QUERY_STATUS | ServiceAccess::START,
                    )
                    .map_err(err("cannot open the service"))?;
                match service.start(&[] as &[&OsStr]) {
                    Ok(()) => println!("service {SERVICE_NAME} started"),
                    Err(windows_service::Error::Winapi(e))
                        if e.raw_os_error() == Some(ALREADY_RUNNING) =>
                    {
                        println!("service {SERVICE_NAME} is already running")
                    }
                    Err(e) => return Err(err("cannot start the service")(e)),
                }
                Ok(())
            }
            ServiceAction::Stop => {
                let manager = manager(ServiceManagerAccess::CONNECT)?;
                stop(&manager)?;
                println!("service {SERVICE_NAME} stopped");
                Ok(())
            }
            ServiceAction::Run { serve_args } => {
                let _ = SERVE_ARGS.set(serve_args);
                service_dispatcher::start(SERVICE_NAME, ffi_service_main).map_err(|e| {
                    format!("`service run` is started by the Windows service manager: {e}")
                })
            }
        }
    }

    fn manager(access: ServiceManagerAccess) -> Result<ServiceManager, String> {
        ServiceManager::local_computer(None::<&str>, access)
            .map_err(err("cannot open the service manager"))
    }

    fn install(serve_args: Vec<String>) -> Result<(), String> {
        // Refuse options `serve` would refuse, now rather than at the first start.
        parse(&serve_args)?;
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let manager =
            manager(ServiceManagerAccess::CONNECT | ServiceManagerAccess::CREATE_SERVICE)?;
        let mut launch_arguments = vec![OsString::from("service"), OsString::from("run")];
        launch_arguments.extend(serve_args.into_iter().map(OsString::from));
        let info = ServiceInfo {
            name: OsString::from(SERVICE_NAME),
            display_name: OsString::from("daehwa (대화) chat service"),
            service_type: SERVICE_TYPE,
            start_type: ServiceStartType::AutoStart,
            error_control: ServiceErrorControl::Normal,
            executable_path: exe.clone(),
            launch_arguments,
            dependencies: vec![],
            account_name: None, // LocalSystem
            account_password: None,
        };
        let service = manager
            .create_service(&info, ServiceAccess::CHANGE_CONFIG)
            .map_err(err("cannot create the service"))?;
        service
            .set_description("Self-hosted ChatGPT-style chat service")
            .map_err(err("cannot describe the service"))?;
        println!(
            "service {SERVICE_NAME} installed ({}); start it with `daehwa service start`",
            exe.display()
        );
        Ok(())
    }

    /// Asks the service to stop and waits (at most 30 s) until it has.
    fn stop(manager: &ServiceManager) -> Result<(), String> {
        let service = manager
            .open_service(
                SERVICE_NAME,
                ServiceAccess::QUERY_STATUS | ServiceAccess::STOP,
            )
            .map_err(err("cannot open the service"))?;
        let state = service
            .query_status()
            .map_err(err("cannot query the service"))?
            .current_state;
        if state != ServiceState::Stopped {
            service.stop().map_err(err("cannot stop the service"))?;
        }
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            let state = service
                .query_status()
                .map_err(err("cannot query the service"))?
                .current_state;
            if state == ServiceState::Stopped {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        Err("the service did not stop within 30 s".into())
    }

    fn uninstall() -> Result<(), String> {
        let manager = manager(ServiceManagerAccess::CONNECT)?;
        stop(&manager)?;
        let service = manager
            .open_service(SERVICE_NAME, ServiceAccess::DELETE)
            .map_err(err("cannot open the service"))?;
        service.delete().map_err(err("cannot delete the service"))?;
        println!("service {SERVICE_NAME} removed");
        Ok(())
    }

    /// `serve` options; the database and log default to files beside the exe
    /// (a service's working directory is System32).
    fn parse(serve_args: &[String]) -> Result<daehwa::config::ServeArgs, String> {
        let argv = std::iter::once("daehwa".to_string()).chain(serve_args.iter().cloned());
        let matches = ServeOnly::command()
            .try_get_matches_from(argv)
            .map_err(|e| e.to_string())?;
        let defaulted = config::db_defaulted(&matches);
        let mut args = ServeOnly::from_arg_matches(&matches)
            .map_err(|e| e.to_string())?
            .serve;
        if defaulted {
            args.db = config::default_place("daehwa.db", true);
        }
        if args.log_file.is_none() {
            args.log_file = Some(config::default_place("daehwa.log", true));
        }
        Ok(args)
    }

    define_windows_service!(ffi_service_main, service_main);

    fn service_main(_arguments: Vec<OsString>) {
        if let Err(message) = run_service() {
            log::error!("service: {message}");
        }
    }

    fn status(state: ServiceState, exit: u32) -> ServiceStatus {
        ServiceStatus {
            service_type: SERVICE_TYPE,
            current_state: state,
            controls_accepted: if state == ServiceState::Running {
                ServiceControlAccept::STOP | ServiceControlAccept::SHUTDOWN
            } else {
                ServiceControlAccept::empty()
            },
            exit_code: ServiceExitCode::Win32(exit),
            checkpoint: 0,
            // Time the manager waits for the stop: the server's grace periods.
            wait_hint: Duration::from_secs(25),
            process_id: None,
        }
    }

    fn run_service() -> Result<(), String> {
        let args = parse(SERVE_ARGS.get().map(Vec::as_slice).unwrap_or(&[]))?;
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let stop_tx = Mutex::new(Some(stop_tx));
        let handler = move |control| match control {
            ServiceControl::Stop | ServiceControl::Shutdown => {
                if let Some(tx) = stop_tx.lock().unwrap_or_else(|e| e.into_inner()).take() {
                    let _ = tx.send(());
                }
                ServiceControlHandlerResult::NoError
            }
            ServiceControl::Interrogate => ServiceControlHandlerResult::NoError,
            _ => ServiceControlHandlerResult::NotImplemented,
        };
        let handle =
            service_control_handler::register(SERVICE_NAME, handler).map_err(|e| e.to_string())?;
        handle
            .set_service_status(status(ServiceState::Running, 0))
            .map_err(|e| e.to_string())?;
        let code = crate::serve(args, async move {
            let _ = stop_rx.await;
            log::info!("the service manager asked daehwa to stop");
        });
        let exit = if code == std::process::ExitCode::SUCCESS {
            0
        } else {
            1
        };
        handle
            .set_service_status(status(ServiceState::Stopped, exit))
            .map_err(|e| e.to_string())
    }
}
