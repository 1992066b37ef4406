//! `check --processes N` and `check --hostfile FILE --process-index I`: the processes of a
//! distributed exploration (`pincheck::check::Session`, on timely-dataflow). `--processes N`
//! picks N free loopback ports, writes them to a temporary host file and starts N-1 copies of
//! this command line as processes 1..N of it (`--hostfile TMP --process-index I` in place of
//! `--processes N`); this process is process 0 and reports.

use super::{Explore, ExploreArgs};
use pincheck::check::{Cluster, Session};
use pincheck::limits::PROCESSES_MAX;
use pincheck::run::{self, InputError};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct ClusterArgs {
    /// Explore exhaustively across N processes of this machine, which this one starts and
    /// reports for (timely-dataflow: states partitioned by fingerprint, one exchange per
    /// breadth-first level). Results (labels, witnesses, counts) are those of one process.
    #[arg(long, value_name = "N", conflicts_with_all = ["hostfile", "on"],
          value_parser = clap::value_parser!(u16).range(1..=PROCESSES_MAX as i64))]
    pub processes: Option<u16>,
    /// Explore exhaustively across the machines of FILE: one `host:port` a line, in process
    /// order (blank lines and `#` comments skipped). Start the same command on every machine
    /// with its own --process-index; process 0 prints the results, the others nothing.
    #[arg(long, value_name = "FILE", requires = "process_index", conflicts_with = "on")]
    pub hostfile: Option<String>,
    /// With --hostfile: this process's line in it, from 0.
    #[arg(long, value_name = "I", requires = "hostfile")]
    pub process_index: Option<usize>,
    /// With --processes or --hostfile: seconds to wait for every process to connect.
    #[arg(long, value_name = "SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub connect_timeout: u64,
}

/// A distributed run of this command: the session, and the processes this one started.
pub struct Run {
    pub session: Arc<Session>,
    children: Children,
}

impl Run {
    /// This process prints nothing: another one reports.
    pub fn quiet(&self) -> bool {
        self.session.process() != 0
    }

    /// Ends the session and waits for the processes this one started.
    pub fn finish(mut self) -> Result<(), InputError> {
        self.session.finish().map_err(InputError::Usage)?;
        self.children.wait()
    }
}

/// `host:port` lines of a host file; `file:line: ...` for a malformed one.
pub fn parse_hostfile(file: &str, text: &str) -> Result<Vec<String>, InputError> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let bad = |why: &str| InputError::Usage(format!("{file}:{}: `{l}`: {why}", n + 1));
        let Some((host, port)) = l.rsplit_once(':') else {
            return Err(bad("expected host:port"));
        };
        if host.is_empty() || host.contains(char::is_whitespace) {
            return Err(bad("expected host:port (no host)"));
        }
        if port.parse::<u16>().map_or(true, |p| p == 0) {
            return Err(bad("expected host:port (the port is a number from 1 to 65535)"));
        }
        out.push(l.to_string());
    }
    if out.is_empty() {
        return Err(InputError::Usage(format!("{file}: no host:port line")));
    }
    if out.len() > PROCESSES_MAX {
        return Err(InputError::Usage(format!(
            "{file}: {} processes; at most {PROCESSES_MAX}",
            out.len()
        )));
    }
    Ok(out)
}

/// Starts the distributed run the flags ask for (`None` without --processes or --hostfile).
pub fn start(c: &ClusterArgs, a: &ExploreArgs) -> Result<Option<Run>, InputError> {
    if c.processes.is_none() && c.hostfile.is_none() {
        return Ok(None);
    }
    if !matches!(a.explore, Explore::Auto | Explore::Exhaustive) {
        return Err(InputError::Usage(
            "--processes and --hostfile distribute the exhaustive (breadth-first) search: \
             --explore auto or exhaustive"
                .into(),
        ));
    }
    let threads = a.threads.map_or(1, usize::from);
    let timeout = Duration::from_secs(c.connect_timeout);
    let (cluster, mut children) = match (&c.hostfile, c.processes) {
        (Some(file), _) => {
            let text = run::read_text(file)?;
            let addresses = parse_hostfile(file, &text)?;
            let process = c.process_index.unwrap_or(0);
            if process >= addresses.len() {
                return Err(InputError::Usage(format!(
                    "--process-index {process}: {file} lists {} process{} (0 to {})",
                    addresses.len(),
                    if addresses.len() == 1 { "" } else { "es" },
                    addresses.len() - 1
                )));
            }
            (Cluster { process, addresses, threads }, Children::default())
        }
        (None, Some(n)) => launch(n as usize, threads)?,
        (None, None) => unreachable!("checked above"),
    };
    let mut abort = || children.exited();
    let session = Session::start(&cluster, timeout, &mut abort).map_err(InputError::Usage)?;
    Ok(Some(Run { session: Arc::new(session), children }))
}

/// The processes `--processes N` started; killed (and reaped) if this one stops first.
#[derive(Default)]
struct Children {
    running: Vec<(usize, Child)>,
    hostfile: Option<std::path::PathBuf>,
}

impl Children {
    /// Why setup cannot succeed: a child that has already exited.
    fn exited(&mut self) -> Option<String> {
        for (i, c) in &mut self.running {
            if let Ok(Some(s)) = c.try_wait() {
                return Some(format!("process {i} of --processes exited during setup ({s})"));
            }
        }
        None
    }

    /// Waits (a minute at most) for every child to exit, successfully.
    fn wait(&mut self) -> Result<(), InputError> {
        let deadline = Instant::now() + Duration::from_secs(60);
        while let Some((i, mut c)) = self.running.pop() {
            loop {
                match c.try_wait() {
                    Ok(Some(s)) if s.success() => break,
                    Ok(Some(s)) => {
                        return Err(InputError::Usage(format!(
                            "process {i} of --processes failed ({s})"
                        )))
                    }
                    Ok(None) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(5))
                    }
                    _ => {
                        let _ = c.kill();
                        let _ = c.wait();
                        return Err(InputError::Usage(format!(
                            "process {i} of --processes did not exit after the run; killed"
                        )));
                    }
                }
            }
        }
        Ok(())
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        for (_, c) in &mut self.running {
            if let Ok(None) = c.try_wait() {
                let _ = c.kill();
            }
            let _ = c.wait();
        }
        if let Some(f) = &self.hostfile {
            let _ = std::fs::remove_file(f);
        }
    }
}

/// Starts processes 1..n of a local run on free loopback ports, each this command line with
/// `--hostfile TMP --process-index I` in place of `--processes N`; standard input and output
/// to /dev/null (process 0 reports), standard error shared.
fn launch(n: usize, threads: usize) -> Result<(Cluster, Children), InputError> {
    let io = |what: &str, e: std::io::Error| InputError::Usage(format!("--processes: {what}: {e}"));
    // Ports the system hands out now; the processes bind them again in a moment.
    let listeners: Vec<std::net::TcpListener> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<_, _>>()
        .map_err(|e| io("picking a port", e))?;
    let addresses: Vec<String> = listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.to_string()))
        .collect::<Result<_, _>>()
        .map_err(|e| io("picking a port", e))?;
    drop(listeners);
    let mut children = Children::default();
    if n > 1 {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let file =
            std::env::temp_dir().join(format!("pincheck-hosts-{}-{nanos}.txt", std::process::id()));
        std::fs::write(&file, addresses.join("\n") + "\n")
            .map_err(|e| io(&file.display().to_string(), e))?;
        children.hostfile = Some(file.clone());
        let exe = std::env::current_exe().map_err(|e| io("this program's path", e))?;
        let mut args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
        // Drop `--processes N` / `--processes=N`.
        let mut i = 0;
        while i < args.len() {
            let a = args[i].to_string_lossy();
            if a == "--processes" {
                args.drain(i..(i + 2).min(args.len()));
            } else if a.starts_with("--processes=") {
                args.remove(i);
            } else {
                i += 1;
            }
        }
        for p in 1..n {
            // After the subcommand's name: before any `--`.
            let mut argv = args.clone();
            let at = 1.min(argv.len());
            argv.splice(
                at..at,
                [
                    "--hostfile".into(),
                    file.clone().into_os_string(),
                    "--process-index".into(),
                    p.to_string().into(),
                ],
            );
            let child = Command::new(&exe)
                .args(argv)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .map_err(|e| io(&format!("starting process {p}"), e))?;
            children.running.push((p, child));
        }
    }
    Ok((Cluster { process: 0, addresses, threads }, children))
}

#[cfg(test)]
mod tests {
    use super::parse_hostfile;

    #[test]
    fn host_files_parse_or_say_which_line_is_wrong() {
        let ok = parse_hostfile("h", "# two\nnode0:2101\n\n  node1:2101  \n").unwrap();
        assert_eq!(ok, ["node0:2101", "node1:2101"]);
        let e = |t: &str| parse_hostfile("h", t).unwrap_err().to_string();
        assert_eq!(e("a:1\nnode1\n"), "h:2: `node1`: expected host:port");
        assert!(e("a:1\nb:http\n").starts_with("h:2: `b:http`: expected host:port (the port"));
        assert!(e("a:1\n:80\n").starts_with("h:2: `:80`"));
        assert_eq!(e("# nothing\n"), "h: no host:port line");
    }
}
