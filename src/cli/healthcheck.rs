//! `asyncbot healthcheck` and `asyncbot backup`: the two commands a deployment runs beside the
//! bot. The first asks the running bot's `/healthz` (for Docker's `HEALTHCHECK`: the runtime
//! image has no curl); the second copies the store while the bot is stopped.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use super::commands::fail;

/// How long the health check waits for the bot.
const TIMEOUT: Duration = Duration::from_secs(5);

/// GETs `/healthz` of the bot configured at `config` (or at `addr`); success on a 200.
pub fn healthcheck(
    config: Option<&Path>,
    addr: Option<SocketAddr>,
    env: &[(String, String)],
) -> ExitCode {
    let addr = match addr {
        Some(addr) => addr,
        None => match crate::config::load(config, env) {
            Ok(settings) => local(settings.listen),
            Err(e) => return fail(&format!("invalid configuration: {e}")),
        },
    };
    match get_healthz(addr) {
        Ok((200, body)) => {
            println!("{body}");
            ExitCode::SUCCESS
        }
        Ok((status, body)) => fail(&format!(
            "the bot at {addr} is not healthy ({status}): {body}"
        )),
        Err(e) => fail(&format!("cannot reach the bot at {addr}: {e}")),
    }
}

/// A bot listening on every address (`0.0.0.0:3000`, `[::]:3000`) is asked on loopback.
fn local(listen: SocketAddr) -> SocketAddr {
    let mut addr = listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    addr
}

/// One HTTP/1.0 request (the server closes the connection after it): the status and the body.
fn get_healthz(addr: SocketAddr) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    write!(
        stream,
        "GET /healthz HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = Vec::new();
    stream.take(64 * 1024).read_to_end(&mut response)?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("not an HTTP answer"))?;
    Ok((status, body.trim().to_owned()))
}

/// Copies the store of the configuration at `config` to `to`. The bot must be stopped: redb lets
/// one process open the file, so holding it open here is the proof that nobody writes to it
/// while it is copied.
pub fn backup(config: Option<&Path>, to: &Path, env: &[(String, String)]) -> ExitCode {
    let settings = match crate::config::load(config, env) {
        Ok(s) => s,
        Err(e) => return fail(&format!("invalid configuration: {e}")),
    };
    let from = &settings.store_path;
    if !from.exists() {
        return fail(&format!(
            "there is no store at {}: nothing to back up (point --config at the bot's configuration)",
            from.display()
        ));
    }
    if to.exists() {
        return fail(&format!(
            "{} already exists: choose a new file (a backup never overwrites)",
            to.display()
        ));
    }
    // Held open (and locked) until the copy is done.
    let store = match crate::store::Store::open(from) {
        Ok(store) => store,
        Err(crate::store::StoreError::Locked(_)) => {
            return fail(&format!(
                "the bot is running and holds {}: a copy made now could be torn. Stop it, back up, start it again, e.g. `systemctl stop asyncbot && asyncbot backup --to {} && systemctl start asyncbot` (events Slack sends meanwhile are retried by Slack or wait in Socket Mode)",
                from.display(),
                to.display()
            ));
        }
        Err(e) => return fail(&e.to_string()),
    };
    // Deliveries acked but not yet imported (the bot stopped meanwhile) go into the store
    // first: the backup is the store file alone.
    if let Err(e) = store.import_all_staged() {
        return fail(&e.to_string());
    }
    match copy_durably(from, to) {
        Ok(bytes) => {
            println!(
                "backed up {} to {} ({bytes} bytes). To restore: stop the bot, copy it back to store.path, delete the directory {} if it is there, start the bot",
                from.display(),
                to.display(),
                store.staging_dir().display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(&format!("cannot write {}: {e}", to.display())),
    }
}

/// Copies to a temporary file beside `to`, flushes it to disk, then renames it: `to` is either
/// the whole copy or absent.
fn copy_durably(from: &Path, to: &Path) -> std::io::Result<u64> {
    let dir = match to.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    let bytes = std::io::copy(&mut std::fs::File::open(from)?, tmp.as_file_mut())?;
    tmp.as_file().sync_all()?;
    tmp.persist_noclobber(to).map_err(|e| e.error)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unspecified_listen_address_is_asked_on_loopback() {
        assert_eq!(
            local("0.0.0.0:3000".parse().unwrap()),
            "127.0.0.1:3000".parse().unwrap()
        );
        assert_eq!(
            local("[::]:3000".parse().unwrap()),
            "[::1]:3000".parse().unwrap()
        );
        assert_eq!(
            local("10.0.0.5:80".parse().unwrap()),
            "10.0.0.5:80".parse().unwrap()
        );
    }
}
