//! A hot standby of a local cluster, streaming from its socket: for tests
//! of read routing and replication lag.

use std::path::Path;

use anyhow::{Context, Result};

use super::LocalCluster;

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
        let tmp = self.fresh_sibling("basebackup-tmp")?;
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
        self.move_into_place(&tmp)?;
        tracing::info!(
            data_dir = %self.data_dir.display(),
            primary = %primary.data_dir().display(),
            "cloned a standby"
        );
        Ok(())
    }
}
