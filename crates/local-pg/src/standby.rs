//! A hot standby of a local cluster, streaming from its socket: for tests
//! of read routing and replication lag.

use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

use anyhow::{Context, Result, bail};

use super::{LocalCluster, dir_is_empty, split_data_dir};

impl LocalCluster {
    /// Makes sure a hot standby of `primary` exists in `data_dir` and is
    /// running on `port`. A new one is cloned with `pg_basebackup -R`
    /// (which writes `standby.signal` and the `primary_conninfo` naming the
    /// primary's socket), into a sibling temporary directory renamed into
    /// place, like `initdb`. An existing one is started or reused.
    pub fn ensure_standby(primary: &LocalCluster, data_dir: &Path, port: u16) -> Result<Self> {
        let cluster = Self::at(data_dir, port)?;
        let _lock = cluster.lock()?;
        let pg_version = cluster.data_dir.join("PG_VERSION");
        let cloned = pg_version
            .try_exists()
            .with_context(|| format!("checking for {}", pg_version.display()))?;
        if !cloned {
            cluster.clone_from(primary)?;
        }
        cluster.start_or_adopt()
    }

    fn clone_from(&self, primary: &LocalCluster) -> Result<()> {
        let (parent, name) = split_data_dir(&self.data_dir)?;
        let tmp = parent.join(format!("{name}.basebackup-tmp"));
        if tmp
            .try_exists()
            .with_context(|| format!("checking {}", tmp.display()))?
        {
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
        let mut cmd = self.pg_command("pg_basebackup");
        cmd.arg("-D")
            .arg(&tmp)
            .arg("-h")
            .arg(primary.socket_dir())
            .arg("-p")
            .arg(primary.port().to_string())
            .args(["-U", "postgres", "-R", "-X", "stream", "-c", "fast"]);
        self.run(&mut cmd).with_context(|| {
            format!(
                "cloning a standby of {} into {}",
                primary.data_dir().display(),
                tmp.display()
            )
        })?;
        self.chown_recursive(&tmp)?;
        fs::rename(&tmp, &self.data_dir).with_context(|| {
            format!(
                "moving the new standby {} to {}",
                tmp.display(),
                self.data_dir.display()
            )
        })?;
        tracing::info!(
            data_dir = %self.data_dir.display(),
            primary = %primary.data_dir().display(),
            "cloned a standby"
        );
        Ok(())
    }
}
