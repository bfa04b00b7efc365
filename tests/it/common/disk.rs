//! A small filesystem that can be filled: a tmpfs mounted in a private
//! mount namespace (held open by a `sleep`), so nothing outside the test
//! sees it and it disappears with the test. Commands run on it through
//! `nsenter`; the test reaches its files through `/proc/PID/root`. Needs
//! root (CI runs as root) and util-linux's `unshare` and `nsenter`.

use super::cmd::{bin, without_reprise_env};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub struct SmallDisk {
    holder: Child,
    /// Where the tmpfs is mounted, as commands in the namespace see it.
    mount: PathBuf,
    _dir: tempfile::TempDir,
}

const FILLER: &str = "filler";

impl SmallDisk {
    pub fn new(megabytes: u64) -> SmallDisk {
        let dir = tempfile::tempdir().expect("temp dir");
        let mount = dir.path().join("disk");
        std::fs::create_dir(&mount).unwrap();
        let mut holder = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c"])
            .arg(r#"mount -t tmpfs -o size="$1" tmpfs "$0" && echo mounted && exec sleep 3600"#)
            .arg(&mount)
            .arg(format!("{megabytes}m"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run unshare (util-linux)");
        let mut line = String::new();
        BufReader::new(holder.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        if line.trim() != "mounted" {
            let _ = holder.kill();
            let out = holder.wait_with_output().unwrap();
            panic!(
                "a full-disk test mounts a tmpfs in a private mount namespace, which needs \
                 root: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        SmallDisk {
            holder,
            mount,
            _dir: dir,
        }
    }

    /// `relative` on the small disk, as this process reaches it.
    pub fn path(&self, relative: &str) -> PathBuf {
        let inside = self.inner(relative);
        Path::new(&format!("/proc/{}/root", self.holder.id()))
            .join(inside.strip_prefix("/").expect("absolute temp dir"))
    }

    /// `relative` on the small disk, as commands run on it see it.
    pub fn inner(&self, relative: &str) -> PathBuf {
        self.mount.join(relative)
    }

    /// `reprise --data-dir DATA` run in the disk's namespace, with no
    /// `REPRISE_*` variable leaking in (`nsenter` executes it in place, so
    /// the child is reprise itself).
    pub fn reprise(&self, data: &str) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.arg("--target")
            .arg(self.holder.id().to_string())
            .args(["--mount", "--"])
            .arg(bin())
            .arg("--data-dir")
            .arg(self.inner(data));
        without_reprise_env(&mut cmd);
        cmd
    }

    /// Fills the disk until `spare` bytes are left.
    pub fn fill(&self, spare: u64) {
        let path = self.path(FILLER);
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap();
        let chunk = vec![0u8; 64 << 10];
        loop {
            match file.write(&chunk) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
                Err(e) => panic!("filling the small disk: {e}"),
            }
        }
        let len = file.metadata().unwrap().len();
        file.set_len(len.saturating_sub(spare)).unwrap();
    }

    /// Frees what [`SmallDisk::fill`] took.
    pub fn free(&self) {
        std::fs::remove_file(self.path(FILLER)).unwrap();
    }

    /// Copies `from` (a directory) to `relative` on the disk, keeping
    /// sparse files sparse (the engine's journals are allocated ahead).
    pub fn copy_in(&self, from: &Path, relative: &str) {
        let status = Command::new("cp")
            .args(["-r", "--sparse=always"])
            .arg(from)
            .arg(self.path(relative))
            .status()
            .expect("run cp");
        assert!(
            status.success(),
            "copying {} to the small disk",
            from.display()
        );
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}
