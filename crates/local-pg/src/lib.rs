//! A self-provisioned local PostgreSQL cluster.
//!
//! When the service starts without `DATABASE_URL` (and when the test suite
//! runs) it creates and starts its own cluster, so a newcomer needs no manual
//! step:
//!
//! * the server binaries are found on `PATH`, else in the highest
//!   `/usr/lib/postgresql/*/bin`, else via `pg_config --bindir`;
//! * `initdb` runs only when `<data_dir>/PG_VERSION` is missing (into a
//!   sibling temporary directory that is renamed into place, so an
//!   interrupted `initdb` never leaves a half-made cluster behind);
//! * the server listens on a Unix socket only (`listen_addresses = ''`) and
//!   `pg_hba.conf` trusts the socket only (for databases and for
//!   replication, so a standby can be cloned from it: [`standby`]);
//! * as root (sessions, CI) the binaries run as the `postgres` OS user, or a
//!   system user created for the purpose, since PostgreSQL refuses root;
//! * an exclusive `flock` on `<data_dir>.lock` serialises concurrent callers
//!   (parallel test binaries, `cargo run`);
//! * a server that is already running is reused, and a stale
//!   `postmaster.pid` left by a crash is removed before starting.
//!
//! The server keeps running when the process exits, so later runs reuse it;
//! [`LocalCluster::stop`] stops it.

use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use nix::fcntl::{Flock, FlockArg};
use nix::unistd::{Gid, Uid, User};

pub mod standby;

/// The binaries a usable PostgreSQL installation must provide.
const REQUIRED_BINARIES: [&str; 3] = ["initdb", "pg_ctl", "postgres"];

/// Name of the system user created when running as root and no `postgres`
/// OS user exists.
const FALLBACK_USER: &str = "pgprovision";

/// Configuration file (inside the data dir) holding the settings this module
/// manages; it is rewritten before every start and included from the end of
/// `postgresql.conf`.
const PROVISION_CONF: &str = "pds_provision.conf";

/// The complete `pg_hba.conf`: trust on the Unix socket only, no TCP.
const PG_HBA_CONF: &str = "local all all trust\nlocal replication all trust\n";

/// Unix socket paths longer than this go to a short directory under /tmp
/// (`sun_path` holds 107 bytes plus the terminating NUL).
const MAX_SOCKET_PATH: usize = 100;

/// How long to wait for the server to start or stop.
const PG_CTL_TIMEOUT_SECS: u64 = 60;

/// An OS user the PostgreSQL binaries run as (only when we are root).
#[derive(Debug, Clone)]
struct RunAs {
    name: String,
    uid: Uid,
    gid: Gid,
}

/// A local PostgreSQL cluster owned by this service.
#[derive(Debug)]
pub struct LocalCluster {
    data_dir: PathBuf,
    socket_dir: PathBuf,
    port: u16,
    bin_dir: PathBuf,
    log_file: PathBuf,
    lock_file: PathBuf,
    run_as: Option<RunAs>,
}

/// Whether a postmaster is serving the data directory.
enum ServerState {
    Running(PidFile),
    Stopped,
}

/// The interesting lines of `postmaster.pid`.
#[derive(Debug, Default)]
struct PidFile {
    pid: i32,
    port: Option<u16>,
    socket_dir: Option<PathBuf>,
    status: Option<String>,
}

impl LocalCluster {
    /// Make sure a cluster exists in `data_dir` and is running; return a handle.
    pub fn ensure_running(data_dir: &Path, port: u16) -> Result<LocalCluster> {
        let cluster = Self::at(data_dir, port)?;
        let _lock = cluster.lock()?;
        let pg_version = cluster.data_dir.join("PG_VERSION");
        let initialised = pg_version
            .try_exists()
            .with_context(|| format!("checking for {}", pg_version.display()))?;
        if !initialised {
            cluster.init()?;
        }
        cluster.start_or_adopt()
    }

    /// The handle of a cluster in `data_dir` (relocated where its OS user
    /// can reach it), without touching the server.
    fn at(data_dir: &Path, port: u16) -> Result<LocalCluster> {
        let mut data_dir = absolute_data_dir(data_dir)?;

        let bin_dir = find_bin_dir()?;
        let run_as = if nix::unistd::geteuid().is_root() {
            Some(resolve_run_as_user()?)
        } else {
            None
        };
        if let Some(user) = &run_as
            && let Err(unreachable) = check_traversable(&data_dir, user)
        {
            // A checkout in root's home (mode 700), say: the cluster's OS
            // user cannot reach it, so the cluster lives where it can, under
            // a name fixed by the path asked for (the same checkout always
            // finds its cluster again).
            let reachable = reachable_data_dir(&data_dir)?;
            tracing::warn!(
                asked = %data_dir.display(),
                using = %reachable.display(),
                reason = %unreachable,
                "the local PostgreSQL cluster's OS user cannot reach the data dir asked for: \
                 using {} instead (set PG_DATA_DIR to choose another)",
                reachable.display()
            );
            data_dir = reachable;
            check_traversable(&data_dir, user)?;
        }
        let (parent, name) = split_data_dir(&data_dir)?;

        Ok(LocalCluster {
            socket_dir: choose_socket_dir(&data_dir, port),
            log_file: parent.join(format!("{name}.log")),
            lock_file: parent.join(format!("{name}.lock")),
            data_dir,
            port,
            bin_dir,
            run_as,
        })
    }

    /// Reuses the server serving the data dir, else starts it; the lock
    /// must be held.
    fn start_or_adopt(mut self) -> Result<LocalCluster> {
        let cluster = &mut self;
        match cluster.state()? {
            ServerState::Running(pid_file) => {
                cluster.adopt_running(&pid_file);
                cluster.wait_until_ready()?;
                tracing::info!(
                    data_dir = %cluster.data_dir.display(),
                    socket_dir = %cluster.socket_dir.display(),
                    port = cluster.port,
                    pid = pid_file.pid,
                    status = pid_file.status.as_deref().unwrap_or("?"),
                    "reusing running local PostgreSQL in {} (socket {})",
                    cluster.data_dir.display(),
                    cluster.socket_path().display(),
                );
            }
            ServerState::Stopped => cluster.start_locked()?,
        }
        Ok(self)
    }

    /// A libpq URL connecting as `postgres` over the Unix socket, e.g.
    /// `postgres://postgres@/pds?host=/path/to/data&port=54329`.
    pub fn database_url(&self, database: &str) -> String {
        format!(
            "postgres://postgres@/{}?host={}&port={}",
            percent_encode(database.as_bytes(), false),
            percent_encode(self.socket_dir.as_os_str().as_bytes(), true),
            self.port
        )
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server log (outside the data directory).
    pub fn log_file(&self) -> &Path {
        &self.log_file
    }

    /// Stop the server (`pg_ctl stop -m fast`), waiting until it is down.
    /// Stopping a server that is not running is not an error.
    pub fn stop(&self) -> Result<()> {
        let _lock = self.lock()?;
        match self.state()? {
            ServerState::Stopped => {
                tracing::info!(
                    "local PostgreSQL in {} is not running",
                    self.data_dir.display()
                );
                Ok(())
            }
            ServerState::Running(_) => {
                let timeout = PG_CTL_TIMEOUT_SECS.to_string();
                let mut cmd = self.pg_command("pg_ctl");
                cmd.arg("-D")
                    .arg(&self.data_dir)
                    .args(["-m", "fast", "-w", "-t", &timeout, "stop"]);
                self.run(&mut cmd).with_context(|| {
                    format!(
                        "stopping local PostgreSQL in {} (server log: {})",
                        self.data_dir.display(),
                        self.log_file.display()
                    )
                })?;
                tracing::info!("stopped local PostgreSQL in {}", self.data_dir.display());
                Ok(())
            }
        }
    }

    /// Start the server again after [`stop`](Self::stop); waits until it
    /// accepts connections. A server that is already running is reused.
    pub fn start(&self) -> Result<()> {
        let _lock = self.lock()?;
        match self.state()? {
            ServerState::Running(pid_file) => {
                if pid_file.port.is_some_and(|p| p != self.port) {
                    bail!(
                        "local PostgreSQL in {} is already running on port {:?}, not {}",
                        self.data_dir.display(),
                        pid_file.port,
                        self.port
                    );
                }
                self.wait_until_ready()?;
                tracing::info!(
                    "reusing running local PostgreSQL in {} (socket {})",
                    self.data_dir.display(),
                    self.socket_path().display()
                );
                Ok(())
            }
            ServerState::Stopped => self.start_locked(),
        }
    }

    /// `<socket_dir>/.s.PGSQL.<port>`.
    fn socket_path(&self) -> PathBuf {
        self.socket_dir.join(format!(".s.PGSQL.{}", self.port))
    }

    /// Take the exclusive lock serialising initdb/start/stop on this data dir.
    fn lock(&self) -> Result<Flock<File>> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&self.lock_file)
            .with_context(|| format!("opening lock file {}", self.lock_file.display()))?;
        let mut file = file;
        loop {
            match Flock::lock(file, FlockArg::LockExclusive) {
                Ok(lock) => return Ok(lock),
                Err((f, nix::errno::Errno::EINTR)) => file = f,
                Err((_, errno)) => {
                    return Err(anyhow!(errno))
                        .with_context(|| format!("locking {}", self.lock_file.display()));
                }
            }
        }
    }

    /// Create the cluster: `initdb` into a sibling temporary directory, write
    /// our configuration, then rename it to the data dir.
    fn init(&self) -> Result<()> {
        let tmp = self.fresh_sibling("initdb-tmp")?;
        let mut cmd = self.pg_command("initdb");
        cmd.arg("-D").arg(&tmp).args([
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
        ]);
        self.run(&mut cmd)
            .with_context(|| format!("initialising a PostgreSQL cluster in {}", tmp.display()))?;

        write_pg_hba(&tmp)?;
        let conf = tmp.join("postgresql.conf");
        let mut text =
            fs::read_to_string(&conf).with_context(|| format!("reading {}", conf.display()))?;
        if !text.contains(PROVISION_CONF) {
            if !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&format!(
                "\n# Added by the pds local provisioning: {PROVISION_CONF} is rewritten \
                 before every start.\ninclude_if_exists = '{PROVISION_CONF}'\n"
            ));
            fs::write(&conf, text).with_context(|| format!("writing {}", conf.display()))?;
        }
        self.move_into_place(&tmp)?;
        let version = fs::read_to_string(self.data_dir.join("PG_VERSION")).unwrap_or_default();
        tracing::info!(
            data_dir = %self.data_dir.display(),
            "initialised new cluster in {} (PostgreSQL {})",
            self.data_dir.display(),
            version.trim()
        );
        Ok(())
    }

    /// An empty directory of the run-as user's, `<data_dir>.<suffix>`, to
    /// build a new cluster in before [`move_into_place`](Self::move_into_place).
    /// The lock must be held, so one left there is left over from an
    /// interrupted attempt and is removed. Refuses a data dir that holds
    /// something other than a cluster.
    fn fresh_sibling(&self, suffix: &str) -> Result<PathBuf> {
        let (parent, name) = split_data_dir(&self.data_dir)?;
        let tmp = parent.join(format!("{name}.{suffix}"));
        if tmp
            .try_exists()
            .with_context(|| format!("checking {}", tmp.display()))?
        {
            tracing::warn!("removing leftover {}", tmp.display());
            fs::remove_dir_all(&tmp).with_context(|| format!("removing {}", tmp.display()))?;
        }
        if self.data_dir.exists() && !dir_is_empty(&self.data_dir)? {
            bail!(
                "{} exists and is not empty, but has no PG_VERSION: it is not a PostgreSQL \
                 cluster; move it away or choose another data directory",
                self.data_dir.display()
            );
        }
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&tmp)
            .with_context(|| format!("creating {}", tmp.display()))?;
        self.chown_recursive(&tmp)?;
        Ok(tmp)
    }

    /// Gives the new cluster in `tmp` to the run-as user and renames it to
    /// the data dir (rename(2) replaces an empty directory).
    fn move_into_place(&self, tmp: &Path) -> Result<()> {
        self.chown_recursive(tmp)?;
        fs::rename(tmp, &self.data_dir).with_context(|| {
            format!(
                "moving the new cluster {} to {}",
                tmp.display(),
                self.data_dir.display()
            )
        })
    }

    /// Is a postmaster serving the data dir? Removes a stale `postmaster.pid`.
    fn state(&self) -> Result<ServerState> {
        let mut cmd = self.pg_command("pg_ctl");
        cmd.arg("-D").arg(&self.data_dir).arg("status");
        let out = cmd
            .output()
            .with_context(|| format!("running {}", self.describe(&cmd)))?;
        let pid_path = self.data_dir.join("postmaster.pid");
        match out.status.code() {
            Some(0) => {
                // pg_ctl only checks that the pid is alive; after a crash or a
                // reboot it may belong to some other process.
                let pid_file = read_pid_file(&pid_path)?;
                if let Some(pid_file) = pid_file
                    && is_live_postmaster(pid_file.pid, &self.data_dir)
                {
                    return Ok(ServerState::Running(pid_file));
                }
            }
            Some(4) => bail!(
                "pg_ctl status: no accessible data directory {} ({})",
                self.data_dir.display(),
                String::from_utf8_lossy(&out.stdout).trim()
            ),
            Some(_) => {}
            None => bail!("{} was killed by a signal", self.describe(&cmd)),
        }
        if pid_path.exists() {
            tracing::warn!(
                "removing stale {} (no postmaster is running for it)",
                pid_path.display()
            );
            fs::remove_file(&pid_path)
                .with_context(|| format!("removing stale {}", pid_path.display()))?;
        }
        Ok(ServerState::Stopped)
    }

    /// Take the port and socket directory from a running server's
    /// `postmaster.pid` (it may have been started with other settings).
    fn adopt_running(&mut self, pid_file: &PidFile) {
        if let Some(port) = pid_file.port
            && port != self.port
        {
            tracing::warn!(
                "local PostgreSQL in {} is running on port {port}, not {}; using {port}",
                self.data_dir.display(),
                self.port
            );
            self.port = port;
        }
        if let Some(dir) = &pid_file.socket_dir
            && dir != &self.socket_dir
        {
            tracing::warn!(
                "local PostgreSQL in {} has its socket in {}, not {}",
                self.data_dir.display(),
                dir.display(),
                self.socket_dir.display()
            );
            self.socket_dir = dir.clone();
        }
    }

    /// Configure and start the (stopped) server; the lock must be held.
    fn start_locked(&self) -> Result<()> {
        write_pg_hba(&self.data_dir)?;
        self.write_provision_conf()?;
        self.prepare_socket_dir()?;
        self.prepare_log_file()?;
        self.chown_recursive(&self.data_dir)?;

        let timeout = PG_CTL_TIMEOUT_SECS.to_string();
        let mut cmd = self.pg_command("pg_ctl");
        cmd.arg("-D")
            .arg(&self.data_dir)
            .arg("-l")
            .arg(&self.log_file)
            .args(["-w", "-t", &timeout, "start"]);
        if let Err(err) = self.run(&mut cmd) {
            return Err(err.context(format!(
                "starting local PostgreSQL in {} failed; server log {}:\n{}",
                self.data_dir.display(),
                self.log_file.display(),
                log_tail(&self.log_file, 30)
            )));
        }
        self.wait_until_ready()?;
        tracing::info!(
            data_dir = %self.data_dir.display(),
            socket_dir = %self.socket_dir.display(),
            port = self.port,
            "started local PostgreSQL on socket {} (data {}, log {})",
            self.socket_path().display(),
            self.data_dir.display(),
            self.log_file.display()
        );
        Ok(())
    }

    /// Rewrite the settings this module manages.
    /// `max_wal_size` and `checkpoint_timeout` are raised because random
    /// updates across a large table log a full page image for each page
    /// first touched after a checkpoint; at the default 1 GB the update
    /// benchmark checkpointed every minute or two.
    fn write_provision_conf(&self) -> Result<()> {
        let path = self.data_dir.join(PROVISION_CONF);
        let text = format!(
            "# Written by the pds local provisioning before every start; edits are lost.\n\
             listen_addresses = ''\n\
             unix_socket_directories = '{}'\n\
             unix_socket_permissions = 0700\n\
             port = {}\n\
             max_connections = 200\n\
             shared_buffers = 256MB\n\
             work_mem = 8MB\n\
             maintenance_work_mem = 128MB\n\
             effective_cache_size = 4GB\n\
             max_wal_size = 4GB\n\
             checkpoint_timeout = 15min\n\
             logging_collector = off\n",
            conf_quote(&self.socket_dir),
            self.port
        );
        fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
    }

    /// Create the socket directory if it is not the data dir, and remove a
    /// stale socket and socket lock file left by a crashed server.
    fn prepare_socket_dir(&self) -> Result<()> {
        if self.socket_dir != self.data_dir {
            let dir = &self.socket_dir;
            match fs::DirBuilder::new().mode(0o700).create(dir) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                Err(e) => {
                    return Err(e)
                        .with_context(|| format!("creating socket dir {}", dir.display()));
                }
            }
            let md = fs::symlink_metadata(dir)
                .with_context(|| format!("inspecting socket dir {}", dir.display()))?;
            let owner = self
                .run_as
                .as_ref()
                .map_or(nix::unistd::geteuid(), |u| u.uid);
            let me = nix::unistd::geteuid();
            if !md.is_dir() || (md.uid() != owner.as_raw() && md.uid() != me.as_raw()) {
                bail!(
                    "socket dir {} is not a directory owned by uid {owner}; remove it",
                    dir.display()
                );
            }
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
                .with_context(|| format!("chmod 0700 {}", dir.display()))?;
            self.chown_recursive(dir)?;
        }

        let socket = self.socket_path();
        let socket_lock = self.socket_dir.join(format!(".s.PGSQL.{}.lock", self.port));
        if let Some(owner) = read_pid_file(&socket_lock)? {
            let other_dir = fs::read_to_string(&socket_lock)
                .ok()
                .and_then(|t| t.lines().nth(1).map(PathBuf::from));
            if let Some(other_dir) = other_dir
                && other_dir != self.data_dir
                && is_live_postmaster(owner.pid, &other_dir)
            {
                bail!(
                    "socket {} is in use by another PostgreSQL server (pid {}, data {})",
                    socket.display(),
                    owner.pid,
                    other_dir.display()
                );
            }
        }
        for path in [&socket_lock, &socket] {
            if fs::symlink_metadata(path).is_ok() {
                tracing::warn!("removing stale {}", path.display());
                fs::remove_file(path)
                    .with_context(|| format!("removing stale {}", path.display()))?;
            }
        }
        Ok(())
    }

    /// The server (as the run-as user) appends to the log file, which lives
    /// in a directory it may not be able to write to.
    fn prepare_log_file(&self) -> Result<()> {
        OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o640)
            .open(&self.log_file)
            .with_context(|| format!("creating log file {}", self.log_file.display()))?;
        if let Some(user) = &self.run_as {
            std::os::unix::fs::lchown(
                &self.log_file,
                Some(user.uid.as_raw()),
                Some(user.gid.as_raw()),
            )
            .with_context(|| format!("chown {} {}", user.name, self.log_file.display()))?;
        }
        Ok(())
    }

    /// Wait until the server accepts connections on its socket.
    fn wait_until_ready(&self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(PG_CTL_TIMEOUT_SECS);
        let pg_isready = self.bin_dir.join("pg_isready");
        let have_pg_isready = pg_isready.is_file();
        loop {
            let ready = if have_pg_isready {
                // Run as ourselves: this is how the service will connect.
                let mut cmd = Command::new(&pg_isready);
                clear_pg_env(&mut cmd);
                cmd.arg("-q")
                    .arg("-h")
                    .arg(&self.socket_dir)
                    .arg("-p")
                    .arg(self.port.to_string())
                    .args(["-U", "postgres", "-d", "postgres", "-t", "5"])
                    .stdin(Stdio::null());
                let out = cmd
                    .output()
                    .with_context(|| format!("running {}", self.describe(&cmd)))?;
                match out.status.code() {
                    Some(0) => true,
                    Some(1 | 2) => false,
                    _ => bail!(
                        "{} failed: {}",
                        self.describe(&cmd),
                        String::from_utf8_lossy(&out.stderr).trim()
                    ),
                }
            } else {
                self.socket_path().exists()
            };
            if ready {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "local PostgreSQL in {} does not accept connections on {} after {}s; \
                     server log {}:\n{}",
                    self.data_dir.display(),
                    self.socket_path().display(),
                    PG_CTL_TIMEOUT_SECS,
                    self.log_file.display(),
                    log_tail(&self.log_file, 30)
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// A command for one of the PostgreSQL binaries, run as the run-as user.
    fn pg_command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bin_dir.join(program));
        clear_pg_env(&mut cmd);
        cmd.current_dir("/").stdin(Stdio::null());
        if let Some(user) = &self.run_as {
            cmd.uid(user.uid.as_raw()).gid(user.gid.as_raw());
        }
        cmd
    }

    /// Run `cmd`, failing with its output if it exits non-zero.
    fn run(&self, cmd: &mut Command) -> Result<Output> {
        let what = self.describe(cmd);
        let out = cmd.output().with_context(|| format!("running {what}"))?;
        if !out.status.success() {
            bail!(
                "{what} failed ({}):\n{}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(out)
    }

    fn describe(&self, cmd: &Command) -> String {
        let mut s = format!("{cmd:?}");
        if let Some(user) = &self.run_as
            && cmd.get_program() != self.bin_dir.join("pg_isready")
        {
            s.push_str(&format!(" (as user {})", user.name));
        }
        s
    }

    /// Give `path` and everything below it to the run-as user (if any).
    fn chown_recursive(&self, path: &Path) -> Result<()> {
        let Some(user) = &self.run_as else {
            return Ok(());
        };
        chown_tree(path, user.uid, user.gid)
            .with_context(|| format!("chown -R {} {}", user.name, path.display()))
    }
}

/// Absolute, with a canonical parent (created if missing).
fn absolute_data_dir(data_dir: &Path) -> Result<PathBuf> {
    let abs = std::path::absolute(data_dir)
        .with_context(|| format!("making {} absolute", data_dir.display()))?;
    let name = abs
        .file_name()
        .ok_or_else(|| anyhow!("data dir {} must name a directory", abs.display()))?
        .to_owned();
    let parent = abs
        .parent()
        .ok_or_else(|| anyhow!("data dir {} has no parent directory", abs.display()))?;
    fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let parent =
        fs::canonicalize(parent).with_context(|| format!("resolving {}", parent.display()))?;
    Ok(parent.join(name))
}

fn split_data_dir(data_dir: &Path) -> Result<(&Path, String)> {
    let parent = data_dir
        .parent()
        .ok_or_else(|| anyhow!("data dir {} has no parent", data_dir.display()))?;
    let name = data_dir
        .file_name()
        .ok_or_else(|| anyhow!("data dir {} has no name", data_dir.display()))?
        .to_string_lossy()
        .into_owned();
    Ok((parent, name))
}

/// Find the directory holding `initdb`, `pg_ctl` and `postgres`.
fn find_bin_dir() -> Result<PathBuf> {
    let has_all = |dir: &Path| {
        REQUIRED_BINARIES
            .iter()
            .all(|b| is_executable(&dir.join(b)))
    };
    let mut searched = Vec::new();

    // 1. PATH. Follow a symlinked pg_ctl (e.g. /usr/local/bin/pg_ctl ->
    //    /usr/lib/postgresql/15/bin/pg_ctl) so that pg_isready is found too.
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.as_os_str().is_empty() {
                continue;
            }
            if has_all(&dir) {
                if let Some(real) = fs::canonicalize(dir.join("pg_ctl"))
                    .ok()
                    .and_then(|p| p.parent().map(Path::to_path_buf))
                    && has_all(&real)
                {
                    return Ok(real);
                }
                return Ok(dir);
            }
        }
        searched.push(format!("PATH ({})", path.to_string_lossy()));
    } else {
        searched.push("PATH (unset)".to_owned());
    }

    // 2. The highest /usr/lib/postgresql/<version>/bin (Debian, Ubuntu).
    let root = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<(Vec<u32>, PathBuf)> = fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let version: Option<Vec<u32>> = name.split('.').map(|p| p.parse().ok()).collect();
            Some((version?, entry.path().join("bin")))
        })
        .collect();
    versions.sort();
    if let Some((_, dir)) = versions.into_iter().rev().find(|(_, dir)| has_all(dir)) {
        return Ok(dir);
    }
    searched.push("/usr/lib/postgresql/*/bin".to_owned());

    // 3. pg_config --bindir.
    match Command::new("pg_config")
        .arg("--bindir")
        .stdin(Stdio::null())
        .output()
    {
        Ok(out) if out.status.success() => {
            let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            if has_all(&dir) {
                return Ok(dir);
            }
            searched.push(format!("`pg_config --bindir` ({})", dir.display()));
        }
        Ok(out) => searched.push(format!("`pg_config --bindir` (failed: {})", out.status)),
        Err(e) => searched.push(format!("`pg_config --bindir` ({e})")),
    }

    bail!(
        "could not find the PostgreSQL server binaries ({}); searched {}. Install the \
         PostgreSQL 15 server (e.g. `apt-get install postgresql-15`) or set DATABASE_URL",
        REQUIRED_BINARIES.join(", "),
        searched.join(", ")
    )
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// As root: the `postgres` OS user, else a system user created for us.
fn resolve_run_as_user() -> Result<RunAs> {
    let lookup = |name: &str| -> Result<Option<RunAs>> {
        let user = User::from_name(name).with_context(|| format!("looking up user {name}"))?;
        match user {
            Some(u) if u.uid.is_root() => {
                bail!("OS user {name} has uid 0; PostgreSQL cannot run as root")
            }
            Some(u) => Ok(Some(RunAs {
                name: name.to_owned(),
                uid: u.uid,
                gid: u.gid,
            })),
            None => Ok(None),
        }
    };
    for name in ["postgres", FALLBACK_USER] {
        if let Some(user) = lookup(name)? {
            return Ok(user);
        }
    }

    let out = Command::new("useradd")
        .args([
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            FALLBACK_USER,
        ])
        .stdin(Stdio::null())
        .output();
    // Another process may have created it in the meantime.
    if let Some(user) = lookup(FALLBACK_USER)? {
        tracing::info!("created system user {FALLBACK_USER} to run PostgreSQL (not as root)");
        return Ok(user);
    }
    let detail = match out {
        Ok(out) => format!(
            "{}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => e.to_string(),
    };
    bail!(
        "running as root, PostgreSQL needs an unprivileged OS user: there is no `postgres` \
         user and `useradd --system {FALLBACK_USER}` failed ({detail})"
    )
}

/// Where the cluster for `data_dir` lives when its OS user cannot reach
/// `data_dir`: `/var/lib/pds/<hash of data_dir>/<its name>`, the directories
/// created by root, mode 0755.
fn reachable_data_dir(data_dir: &Path) -> Result<PathBuf> {
    let (_, name) = split_data_dir(data_dir)?;
    let home = PathBuf::from(RELOCATED_ROOT)
        .join(format!("{:016x}", fnv1a(data_dir.as_os_str().as_bytes())));
    fs::create_dir_all(&home).with_context(|| format!("creating {}", home.display()))?;
    for dir in [Path::new(RELOCATED_ROOT), home.as_path()] {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o755))
            .with_context(|| format!("chmod 0755 {}", dir.display()))?;
    }
    Ok(home.join(name))
}

/// Where clusters go whose data dir their OS user cannot reach.
const RELOCATED_ROOT: &str = "/var/lib/pds";

/// Every ancestor of `data_dir` must be searchable (x) by `user`.
fn check_traversable(data_dir: &Path, user: &RunAs) -> Result<()> {
    let groups = CString::new(user.name.as_str())
        .ok()
        .and_then(|name| nix::unistd::getgrouplist(&name, user.gid).ok())
        .unwrap_or_else(|| vec![user.gid]);
    for dir in data_dir.ancestors().skip(1) {
        let md = fs::metadata(dir).with_context(|| format!("inspecting {}", dir.display()))?;
        let mode = md.mode();
        let ok = if md.uid() == user.uid.as_raw() {
            mode & 0o100 != 0
        } else if groups.iter().any(|g| g.as_raw() == md.gid()) {
            mode & 0o010 != 0
        } else {
            mode & 0o001 != 0
        };
        if !ok {
            bail!(
                "PostgreSQL runs as OS user {} (uid {}) because we are root, but it cannot \
                 enter {} (mode {:o}, owner uid {}, gid {}): every parent of the data dir {} \
                 must be searchable by that user (e.g. `chmod o+x {}`), or choose a data \
                 dir elsewhere",
                user.name,
                user.uid,
                dir.display(),
                mode & 0o7777,
                md.uid(),
                md.gid(),
                data_dir.display(),
                dir.display()
            );
        }
    }
    Ok(())
}

/// The data dir itself, unless the socket path would be too long or the
/// path has characters awkward in `unix_socket_directories`; then a short
/// per-data-dir directory under /tmp.
fn choose_socket_dir(data_dir: &Path, port: u16) -> PathBuf {
    let bytes = data_dir.as_os_str().as_bytes();
    let socket_len = bytes.len() + format!("/.s.PGSQL.{port}").len();
    let plain = bytes
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-+@~:=".contains(b));
    if socket_len <= MAX_SOCKET_PATH && plain {
        data_dir.to_path_buf()
    } else {
        PathBuf::from(format!("/tmp/pds-pg-{:016x}", fnv1a(bytes)))
    }
}

/// FNV-1a: a hash that is stable across builds (unlike `DefaultHasher`).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn conf_quote(path: &Path) -> String {
    path.to_string_lossy()
        .replace('\\', "\\\\")
        .replace('\'', "''")
}

fn percent_encode(bytes: &[u8], keep_slash: bool) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || (keep_slash && b == b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn write_pg_hba(data_dir: &Path) -> Result<()> {
    let path = data_dir.join("pg_hba.conf");
    if fs::read_to_string(&path).is_ok_and(|t| t == PG_HBA_CONF) {
        return Ok(());
    }
    fs::write(&path, PG_HBA_CONF).with_context(|| format!("writing {}", path.display()))
}

fn dir_is_empty(dir: &Path) -> Result<bool> {
    Ok(fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .next()
        .is_none())
}

/// Child processes must not pick up the caller's PGDATA, PGPORT, PGHOST, ...
fn clear_pg_env(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        if key.as_bytes().starts_with(b"PG") {
            cmd.env_remove(key);
        }
    }
}

/// Parse `postmaster.pid` (or a socket lock file); `None` if it is missing.
/// An unreadable pid line yields pid 0, which is never a live postmaster.
fn read_pid_file(path: &Path) -> Result<Option<PidFile>> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let lines: Vec<&str> = text.lines().collect();
    let line = |i: usize| lines.get(i).map(|l| l.trim()).filter(|l| !l.is_empty());
    Ok(Some(PidFile {
        pid: line(0).and_then(|l| l.parse().ok()).unwrap_or(0),
        port: line(3).and_then(|l| l.parse().ok()),
        socket_dir: line(4).map(PathBuf::from),
        status: line(7).map(str::to_owned),
    }))
}

/// Is `pid` a live postmaster serving `data_dir`? (It may have been reused
/// by an unrelated process after a crash or reboot.)
fn is_live_postmaster(pid: i32, data_dir: &Path) -> bool {
    if pid <= 0 {
        return false;
    }
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    let Ok(stat) = fs::read_to_string(proc_dir.join("stat")) else {
        return false; // gone
    };
    // The state follows the parenthesised command name.
    let state = stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next());
    if matches!(state, Some("Z" | "X")) {
        return false;
    }
    // The postmaster chdirs to its data directory.
    match fs::read_link(proc_dir.join("cwd")) {
        Ok(cwd) => {
            let want = fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
            cwd == want
        }
        // Not ours to inspect: fall back to the command name; if even that
        // is unreadable, assume it is alive rather than risk two postmasters.
        Err(_) => fs::read_to_string(proc_dir.join("comm"))
            .map(|comm| matches!(comm.trim(), "postgres" | "postmaster"))
            .unwrap_or(true),
    }
}

/// `chown -R` without following symlinks.
fn chown_tree(path: &Path, uid: Uid, gid: Gid) -> std::io::Result<()> {
    let md = fs::symlink_metadata(path)?;
    if md.uid() != uid.as_raw() || md.gid() != gid.as_raw() {
        std::os::unix::fs::lchown(path, Some(uid.as_raw()), Some(gid.as_raw()))?;
    }
    if md.is_dir() {
        for entry in fs::read_dir(path)? {
            chown_tree(&entry?.path(), uid, gid)?;
        }
    }
    Ok(())
}

/// The last `lines` lines of the server log, for error messages.
fn log_tail(path: &Path, lines: usize) -> String {
    let read = || -> std::io::Result<String> {
        let mut file = File::open(path)?;
        let len = file.metadata()?.len();
        file.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)))?;
        let mut buf = Vec::new();
        file.read_to_end(&mut buf)?;
        Ok(String::from_utf8_lossy(&buf).into_owned())
    };
    match read() {
        Ok(text) => {
            let all: Vec<&str> = text.lines().collect();
            let tail = all[all.len().saturating_sub(lines)..].join("\n");
            if tail.is_empty() {
                "(log is empty)".to_owned()
            } else {
                tail
            }
        }
        Err(e) => format!("(could not read the log: {e})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::prelude::*;
    use diesel::sql_types::{Integer, Text};

    /// A cluster in a unique temporary directory; stopped and removed on drop
    /// (also when the test panics).
    struct TestCluster {
        root: PathBuf,
        cluster: Option<LocalCluster>,
    }

    impl TestCluster {
        fn root(name: &str) -> PathBuf {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            std::env::temp_dir().join(format!(
                "pds-provision-{name}-{}-{nanos}",
                std::process::id()
            ))
        }

        fn start(name: &str, port: u16) -> TestCluster {
            let root = Self::root(name);
            Self::start_in(root, "pgdata", port)
        }

        fn start_in(root: PathBuf, data: &str, port: u16) -> TestCluster {
            let mut guard = TestCluster {
                root: root.clone(),
                cluster: None,
            };
            let cluster = LocalCluster::ensure_running(&root.join(data), port)
                .expect("ensure_running on a fresh directory");
            guard.cluster = Some(cluster);
            guard
        }

        fn cluster(&self) -> &LocalCluster {
            self.cluster.as_ref().expect("cluster")
        }

        fn url(&self) -> String {
            self.cluster().database_url("postgres")
        }
    }

    impl Drop for TestCluster {
        fn drop(&mut self) {
            if let Some(cluster) = &self.cluster {
                if let Err(e) = cluster.stop() {
                    eprintln!("stopping test cluster: {e:#}");
                }
                if cluster.socket_dir() != cluster.data_dir() {
                    let _ = fs::remove_dir_all(cluster.socket_dir());
                }
            }
            let _ = fs::remove_dir_all(&self.root);
        }
    }

    fn select_one(url: &str) -> Result<i32> {
        let mut conn = PgConnection::establish(url)?;
        Ok(diesel::select(diesel::dsl::sql::<Integer>("1")).get_result(&mut conn)?)
    }

    fn setting(url: &str, name: &str) -> String {
        let mut conn = PgConnection::establish(url).expect("connect");
        diesel::select(diesel::dsl::sql::<Text>(&format!(
            "current_setting('{name}')"
        )))
        .get_result(&mut conn)
        .expect("current_setting")
    }

    fn postmaster_pid(cluster: &LocalCluster) -> i32 {
        read_pid_file(&cluster.data_dir().join("postmaster.pid"))
            .expect("read postmaster.pid")
            .expect("postmaster.pid exists")
            .pid
    }

    #[test]
    fn fresh_directory_is_initialised_and_started() {
        let t = TestCluster::start("fresh", 55431);
        let cluster = t.cluster();
        assert!(cluster.data_dir().is_absolute());
        assert!(cluster.data_dir().join("PG_VERSION").is_file());
        assert_eq!(cluster.socket_dir(), cluster.data_dir());
        assert!(cluster.socket_dir().join(".s.PGSQL.55431").exists());
        assert_eq!(select_one(&t.url()).expect("SELECT 1"), 1);
        assert_eq!(setting(&t.url(), "server_version_num").len(), 6);
        if nix::unistd::geteuid().is_root() {
            let owner = fs::metadata(cluster.data_dir()).expect("stat").uid();
            assert_ne!(
                owner, 0,
                "data dir must belong to the unprivileged run-as user"
            );
        }
        assert!(!cluster.data_dir().with_extension("initdb-tmp").exists());
    }

    #[test]
    fn second_call_and_concurrent_calls_reuse_the_running_server() {
        let root = TestCluster::root("reuse");
        let data_dir = root.join("pgdata");
        // Guard first, so everything is cleaned up even if a thread fails.
        let mut t = TestCluster {
            root: root.clone(),
            cluster: None,
        };
        // Several callers at the same moment on a fresh directory.
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let data_dir = data_dir.clone();
                std::thread::spawn(move || LocalCluster::ensure_running(&data_dir, 55432))
            })
            .collect();
        let clusters: Vec<LocalCluster> = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .expect("thread")
                    .expect("concurrent ensure_running")
            })
            .collect();
        t.cluster = clusters.into_iter().next();
        let pid = postmaster_pid(t.cluster());
        assert_eq!(select_one(&t.url()).expect("SELECT 1"), 1);

        let again = LocalCluster::ensure_running(&data_dir, 55432).expect("second call");
        assert_eq!(again.database_url("postgres"), t.url());
        assert_eq!(postmaster_pid(&again), pid, "must not restart");
        assert_eq!(
            select_one(&again.database_url("postgres")).expect("SELECT 1"),
            1
        );

        // start() on a running server is a no-op too.
        again.start().expect("start while running");
        assert_eq!(postmaster_pid(&again), pid);
    }

    #[test]
    fn a_data_dir_its_os_user_cannot_reach_is_relocated_where_it_can() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: only root runs PostgreSQL as another OS user");
            return;
        }
        // A checkout inside a mode-700 directory, like root's home.
        let root = TestCluster::root("private");
        fs::create_dir_all(&root).expect("root dir");
        fs::set_permissions(&root, fs::Permissions::from_mode(0o700)).expect("chmod 700");
        let asked = root.join("checkout").join("pgdata");
        let t = TestCluster::start_in(root.clone(), "checkout/pgdata", 55437);
        let data_dir = t.cluster().data_dir().to_owned();
        let wanted = absolute_data_dir(&asked).expect("absolute");
        assert!(
            data_dir.starts_with(RELOCATED_ROOT),
            "{}",
            data_dir.display()
        );
        assert_eq!(
            data_dir,
            reachable_data_dir(&wanted).expect("the same place")
        );
        assert_eq!(select_one(&t.url()).expect("SELECT 1"), 1);
        assert!(
            !asked.exists(),
            "nothing made where the cluster's user cannot go"
        );
        drop(t);
        let _ = fs::remove_dir_all(data_dir.parent().expect("hash dir"));
    }

    #[test]
    fn stop_then_start() {
        let t = TestCluster::start("stopstart", 55433);
        assert_eq!(select_one(&t.url()).expect("SELECT 1"), 1);

        t.cluster().stop().expect("stop");
        assert!(
            select_one(&t.url()).is_err(),
            "connection after stop must fail"
        );
        assert!(!t.cluster().data_dir().join("postmaster.pid").exists());
        t.cluster()
            .stop()
            .expect("stopping a stopped server is fine");

        t.cluster().start().expect("start");
        assert_eq!(select_one(&t.url()).expect("SELECT 1 after restart"), 1);
    }

    #[test]
    fn stale_pid_file_does_not_block_start() {
        let t = TestCluster::start("stalepid", 55434);
        let cluster = t.cluster();
        let pid_path = cluster.data_dir().join("postmaster.pid");
        let socket_lock = cluster.socket_dir().join(".s.PGSQL.55434.lock");
        let pid_text = fs::read_to_string(&pid_path).expect("read postmaster.pid");
        let lock_text = fs::read_to_string(&socket_lock).expect("read socket lock");
        cluster.stop().expect("stop");

        let with_pid = |text: &str, pid: u32| -> String {
            let rest: Vec<&str> = text.lines().skip(1).collect();
            format!("{pid}\n{}\n", rest.join("\n"))
        };

        // A crash: pid files naming a process that no longer exists.
        let dead = 999_999;
        assert!(!Path::new(&format!("/proc/{dead}")).exists());
        fs::write(&pid_path, with_pid(&pid_text, dead)).expect("write stale pid");
        fs::write(&socket_lock, with_pid(&lock_text, dead)).expect("write stale lock");
        let again = LocalCluster::ensure_running(cluster.data_dir(), 55434)
            .expect("start over a stale postmaster.pid");
        assert_eq!(
            select_one(&again.database_url("postgres")).expect("SELECT 1"),
            1
        );
        assert_ne!(postmaster_pid(&again), dead as i32);
        again.stop().expect("stop");

        // A reboot: the pid was reused by an unrelated live process (us).
        let alive = std::process::id();
        fs::write(&pid_path, with_pid(&pid_text, alive)).expect("write reused pid");
        fs::write(&socket_lock, with_pid(&lock_text, alive)).expect("write reused lock");
        let again = LocalCluster::ensure_running(cluster.data_dir(), 55434)
            .expect("start over a postmaster.pid naming a non-postmaster");
        assert_eq!(
            select_one(&again.database_url("postgres")).expect("SELECT 1"),
            1
        );
        assert_ne!(postmaster_pid(&again), alive as i32);
    }

    #[test]
    fn a_standby_cloned_from_a_primary_streams_its_writes() {
        let t = TestCluster::start("standby", 55438);
        let primary_url = t.url();
        let standby = LocalCluster::ensure_standby(t.cluster(), &t.root.join("standby"), 55439)
            .expect("ensure_standby");
        let standby_url = standby.database_url("postgres");
        let recovering = |url: &str| {
            let mut conn = PgConnection::establish(url).expect("connect");
            diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(
                "pg_is_in_recovery()",
            ))
            .get_result::<bool>(&mut conn)
            .expect("pg_is_in_recovery")
        };
        assert!(!recovering(&primary_url));
        assert!(recovering(&standby_url));
        let mut primary = PgConnection::establish(&primary_url).expect("connect");
        diesel::sql_query("CREATE TABLE streamed AS SELECT 42 AS n")
            .execute(&mut primary)
            .expect("create on the primary");
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut conn = PgConnection::establish(&standby_url).expect("connect");
        loop {
            let seen: QueryResult<i32> =
                diesel::select(diesel::dsl::sql::<Integer>("(SELECT n FROM streamed)"))
                    .get_result(&mut conn);
            if seen == Ok(42) {
                break;
            }
            assert!(Instant::now() < deadline, "not streamed: {seen:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
        // A second call reuses the running standby.
        let again = LocalCluster::ensure_standby(t.cluster(), standby.data_dir(), 55439)
            .expect("second call");
        assert_eq!(postmaster_pid(&again), postmaster_pid(&standby));
        standby.stop().expect("stopping the standby");
    }

    #[test]
    fn socket_only_and_trust_only_on_the_socket() {
        let t = TestCluster::start("config", 55435);
        let cluster = t.cluster();
        let hba = fs::read_to_string(cluster.data_dir().join("pg_hba.conf")).expect("pg_hba");
        assert_eq!(
            hba.trim(),
            "local all all trust\nlocal replication all trust"
        );
        assert!(
            !hba.lines().any(|l| l.trim_start().starts_with("host")),
            "no host lines: {hba}"
        );
        let conf = fs::read_to_string(cluster.data_dir().join(PROVISION_CONF)).expect("conf");
        assert!(conf.contains("listen_addresses = ''\n"), "{conf}");
        let main_conf =
            fs::read_to_string(cluster.data_dir().join("postgresql.conf")).expect("conf");
        assert!(main_conf.contains(&format!("include_if_exists = '{PROVISION_CONF}'")));

        // What the running server actually uses.
        let url = t.url();
        assert_eq!(setting(&url, "listen_addresses"), "");
        assert_eq!(setting(&url, "port"), "55435");
        assert_eq!(
            setting(&url, "unix_socket_directories"),
            cluster.socket_dir().to_string_lossy()
        );
        assert_eq!(setting(&url, "shared_buffers"), "256MB");
        assert_eq!(setting(&url, "max_connections"), "200");
        assert_eq!(setting(&url, "server_encoding"), "UTF8");
    }

    #[test]
    fn long_data_dir_gets_a_short_socket_dir() {
        let root = TestCluster::root("longpath").join("x".repeat(90));
        let t = TestCluster::start_in(root, "pgdata", 55436);
        let cluster = t.cluster();
        assert!(cluster.data_dir().as_os_str().len() > MAX_SOCKET_PATH);
        assert!(cluster.socket_dir().starts_with("/tmp"));
        let md = fs::metadata(cluster.socket_dir()).expect("socket dir");
        assert_eq!(md.permissions().mode() & 0o777, 0o700);
        assert_eq!(select_one(&t.url()).expect("SELECT 1"), 1);
        // Clean up the grandparent of the data dir too.
        let top = t.root.parent().map(Path::to_path_buf);
        drop(t);
        if let Some(top) = top {
            let _ = fs::remove_dir_all(top);
        }
    }

    #[test]
    fn url_and_helpers() {
        assert_eq!(percent_encode(b"/tmp/a b&c", true), "/tmp/a%20b%26c");
        assert_eq!(percent_encode(b"my/db", false), "my%2Fdb");
        assert_eq!(
            choose_socket_dir(Path::new("/srv/pg"), 5432),
            PathBuf::from("/srv/pg")
        );
        assert!(choose_socket_dir(Path::new("/srv/p g"), 5432).starts_with("/tmp"));
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert!(!is_live_postmaster(999_999, Path::new("/")));
        assert!(!is_live_postmaster(
            std::process::id() as i32,
            Path::new("/nonexistent")
        ));
    }
}
