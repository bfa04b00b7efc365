//! Which installation writes, when several share one log.
//!
//! Every event carries its writer's leader epoch. An installation writes
//! only while it leads; it hands the lead over by appending a fence (a
//! `LeaderFenced` event naming the next leader, with a higher epoch) to
//! every partition of every topic, after which every projection rejects
//! events of older epochs in that partition. The next leader takes over
//! once its own views have applied the fence everywhere, so it has seen
//! every write the old leader made. Should the old leader be gone, the
//! new one appends the fence itself: an old leader that is in fact alive
//! cannot write past it either.
//!
//! At start the last fence decides: an installation the last fence names
//! leads, another one follows; with no fence yet, an installation leads
//! unless started as a standby. An embedded log has a single installation,
//! which always leads (a clone's log may name installations it is not).

use super::{Engine, SubmitError, APPLY_TIMEOUT};
use events::log::TopicPartition;
use events::{fence, Domain};
use projections::runner::{fences_of, Fence};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// Who this installation is among those sharing a log.
#[derive(Clone, Debug)]
pub struct Identity {
    /// Its name, as fences and the proxy's `--backend NAME=URL` know it.
    pub installation: String,
    /// Follow the log without writing until a fence names it.
    pub standby: bool,
}

impl Default for Identity {
    fn default() -> Identity {
        Identity {
            installation: "main".into(),
            standby: false,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum Role {
    /// Undecided until the served views have caught up with the log once.
    Starting,
    /// Writes, stamping its events with `epoch`.
    Leader { epoch: u64 },
    /// Follows the log and answers reads; refuses writes. `leader` is the
    /// installation the last fence names (none on a standby of a log
    /// never fenced).
    Follower { epoch: u64, leader: Option<String> },
}

/// An installation's answer to "who are you, and do you write?".
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ClusterStatus {
    pub installation: String,
    #[serde(flatten)]
    pub role: Role,
    pub ready: bool,
    pub log: String,
}

/// Where one copy of a fence landed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FencePosition {
    pub topic: Domain,
    pub partition: u32,
    pub offset: u64,
}

/// What the old leader did when it handed over.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandOver {
    pub from: String,
    pub to: String,
    pub epoch: u64,
    pub fences: Vec<FencePosition>,
}

/// What a take-over asks: wait for the fences the old leader appended, or,
/// when none are given (the old leader is gone), append them first.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct TakeOverRequest {
    #[serde(default)]
    pub fences: Option<Vec<FencePosition>>,
    /// How long to wait for the views to reach the fences (default 30 s).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TakeOver {
    pub installation: String,
    pub epoch: u64,
    /// Who appended the fence: `previous leader` or `itself`.
    pub fenced_by: String,
    /// How long the views took to reach the fences.
    pub waited_ms: u64,
}

/// What a switch did, as `reprise switch` prints it; the proxy posts it
/// to the installation that took over once the held requests are
/// released.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SwitchReport {
    pub from: String,
    pub to: String,
    pub epoch: u64,
    /// Who appended the fence: the `previous leader`, or the new one
    /// (`itself`) when the old one could not.
    pub fenced_by: String,
    /// Waiting for the requests in flight on the old backend.
    pub drain_ms: u64,
    pub hand_over_ms: u64,
    pub take_over_ms: u64,
    /// From holding to releasing.
    pub total_ms: u64,
    pub held_requests: u64,
    pub longest_hold_ms: f64,
    /// Set when the hand-over failed and the new side fenced itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hand_over_error: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum LeadershipError {
    #[error("{installation} is not the leader ({role:?}); only the leader hands over")]
    NotLeader { installation: String, role: Role },
    #[error("the views did not reach the fence within {0:?}")]
    FenceNotReached(Duration),
    #[error("after the fence, the log names {named:?} as leader, not {installation}")]
    NotNamed {
        installation: String,
        named: Option<String>,
    },
    #[error("the views are not ready: {0}")]
    NotReady(String),
    #[error("a fence for topic {0} was not acknowledged by the log as written")]
    FenceLost(Domain),
    #[error("appending the fences stopped half way")]
    FenceInterrupted,
    #[error(transparent)]
    Log(#[from] events::LogError),
    #[error(transparent)]
    Store(#[from] projections::StoreError),
}

/// The leadership state an engine keeps.
pub(super) struct Leadership {
    pub(super) identity: Identity,
    pub(super) role: tokio::sync::RwLock<Role>,
    /// A hand-over started and not known complete: a retry re-appends the
    /// same fences (a repeated fence changes nothing).
    pending: std::sync::Mutex<Option<(String, u64)>>,
}

impl Leadership {
    fn pending(&self) -> std::sync::MutexGuard<'_, Option<(String, u64)>> {
        // Set and cleared in single statements: a poisoned lock still
        // holds a consistent value.
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Leadership {
    pub(super) fn new(identity: Identity) -> Leadership {
        Leadership {
            identity,
            role: tokio::sync::RwLock::new(Role::Starting),
            pending: std::sync::Mutex::new(None),
        }
    }
}

impl Engine {
    pub fn installation(&self) -> &str {
        &self.leadership.identity.installation
    }

    pub async fn cluster_status(&self) -> ClusterStatus {
        ClusterStatus {
            installation: self.installation().to_string(),
            role: self.role().await,
            ready: self.ready(),
            log: self.log.describe(),
        }
    }

    /// This installation's role, decided once the views are ready.
    pub async fn role(&self) -> Role {
        let role = self.leadership.role.read().await.clone();
        if let Role::Follower { epoch, .. } = role {
            return self.follower_role_now(epoch).await.unwrap_or(role);
        }
        if role != Role::Starting || !self.ready() {
            return role;
        }
        let mut role = self.leadership.role.write().await;
        if *role == Role::Starting {
            match self.decided_role() {
                Ok(decided) => {
                    tracing::info!(installation = %self.installation(), role = ?decided, "leadership decided");
                    *role = decided;
                }
                Err(e) => tracing::error!(error = %e, "cannot read the fences"),
            }
        }
        role.clone()
    }

    /// A follower's role as the log has it now: a fence applied since the
    /// role was decided names the installation that leads (or is to lead:
    /// this one, which still waits to be asked to take over, so that it
    /// leads only once its views passed the fence everywhere). None when
    /// no later fence was applied.
    async fn follower_role_now(&self, known_epoch: u64) -> Option<Role> {
        let fence = self.latest_fence().ok()??;
        if fence.epoch <= known_epoch {
            return None;
        }
        let mut role = self.leadership.role.write().await;
        if let Role::Follower { epoch, leader } = &mut *role {
            if fence.epoch > *epoch {
                *epoch = fence.epoch;
                *leader = Some(fence.leader);
            }
        }
        Some(role.clone())
    }

    /// The fence with the highest epoch the served views applied.
    fn latest_fence(&self) -> Result<Option<Fence>, projections::StoreError> {
        let serving = self.core.serving();
        let mut latest: Option<Fence> = None;
        for &i in serving.followers.values() {
            for fence in fences_of(&self.store, &self.core.followers[i].id)?.into_values() {
                if latest.as_ref().is_none_or(|l| fence.epoch > l.epoch) {
                    latest = Some(fence);
                }
            }
        }
        Ok(latest)
    }

    fn decided_role(&self) -> Result<Role, projections::StoreError> {
        let latest = self.latest_fence()?;
        let epoch = latest.as_ref().map_or(0, |f| f.epoch);
        let me = &self.leadership.identity;
        Ok(match latest {
            _ if !self.log.shared() => Role::Leader { epoch },
            Some(fence) if fence.leader == me.installation => Role::Leader { epoch },
            Some(fence) => Role::Follower {
                epoch,
                leader: Some(fence.leader),
            },
            None if me.standby => Role::Follower {
                epoch,
                leader: None,
            },
            None => Role::Leader { epoch },
        })
    }

    /// The epoch this installation writes under, with the role held (a
    /// hand-over waits until the guard is dropped), or why it may not
    /// write; waits for the views to be ready when the role is undecided.
    pub(super) async fn leading(
        &self,
    ) -> Result<(tokio::sync::RwLockReadGuard<'_, Role>, u64), SubmitError> {
        if *self.leadership.role.read().await == Role::Starting {
            self.wait_ready(APPLY_TIMEOUT)
                .await
                .map_err(|e| SubmitError::NotReady(format!("{e:#}")))?;
            self.role().await;
        }
        let role = self.leadership.role.read().await;
        match *role {
            Role::Leader { epoch } => Ok((role, epoch)),
            Role::Follower { .. } => {
                drop(role);
                Err(self.not_leader().await)
            }
            Role::Starting => Err(SubmitError::NotReady("leadership undecided".into())),
        }
    }

    /// The error for a write refused because another installation leads.
    pub(super) async fn not_leader(&self) -> SubmitError {
        SubmitError::NotLeader {
            installation: self.installation().to_string(),
            leader: match self.role().await {
                Role::Follower { leader, .. } => leader,
                _ => None,
            },
        }
    }

    /// A write of ours was rejected by a fence we did not append: another
    /// installation leads now.
    pub(super) async fn learn_fenced(&self) {
        if let Ok(decided) = self.decided_role() {
            let mut role = self.leadership.role.write().await;
            if matches!(*role, Role::Leader { .. }) && decided != *role {
                tracing::warn!(installation = %self.installation(), role = ?decided, "fenced by another installation");
                *role = decided;
            }
        }
    }

    /// Hands the lead to `to`: waits for the writes in flight here, stops
    /// writing, and appends a fence with a new epoch naming `to` to every
    /// partition of every topic.
    pub async fn hand_over(&self, to: &str) -> Result<HandOver, LeadershipError> {
        self.role().await;
        let mut role = self.leadership.role.write().await;
        let pending = self.leadership.pending().clone();
        let epoch = match (&*role, pending) {
            (Role::Leader { epoch }, _) => {
                let latest = self.latest_fence()?.map_or(0, |f| f.epoch);
                (*epoch).max(latest) + 1
            }
            // A retry of a hand-over that failed half way: the same fence.
            (Role::Follower { .. }, Some((pending_to, epoch))) if pending_to == to => epoch,
            (other, _) => {
                return Err(LeadershipError::NotLeader {
                    installation: self.installation().to_string(),
                    role: other.clone(),
                })
            }
        };
        *self.leadership.pending() = Some((to.to_string(), epoch));
        // No write of ours may follow the fence: from here on we follow.
        *role = Role::Follower {
            epoch,
            leader: Some(to.to_string()),
        };
        let fences = self.append_fences(epoch, to).await?;
        *self.leadership.pending() = None;
        tracing::info!(to, epoch, "handed the lead over");
        Ok(HandOver {
            from: self.installation().to_string(),
            to: to.to_string(),
            epoch,
            fences,
        })
    }

    /// One fence in every partition of every topic, the topics appended
    /// to at once (a switch holds requests meanwhile).
    async fn append_fences(
        &self,
        epoch: u64,
        leader: &str,
    ) -> Result<Vec<FencePosition>, LeadershipError> {
        let actor = format!("system:fence by {}", self.installation());
        let mut appends = tokio::task::JoinSet::new();
        for topic in Domain::ALL {
            let partitions = self.log.partitions(topic);
            let records = fence::records(topic, partitions, epoch, leader, &actor);
            let log = self.log.clone();
            appends.spawn(async move { (topic, partitions, log.append(topic, records).await) });
        }
        let mut fences = Vec::new();
        while let Some(joined) = appends.join_next().await {
            let (topic, partitions, appended) =
                joined.map_err(|_| LeadershipError::FenceInterrupted)?;
            let positions = appended?;
            if positions.len() != partitions as usize {
                return Err(LeadershipError::FenceLost(topic));
            }
            fences.extend(positions.into_iter().map(|p| FencePosition {
                topic,
                partition: p.partition,
                offset: p.offset,
            }));
        }
        fences.sort_by_key(|f| (f.topic, f.partition));
        Ok(fences)
    }

    /// Takes the lead: once the served views have applied the fence in
    /// every partition (so every write of the old leader is in them), and
    /// the fence names this installation, writes resume here.
    pub async fn take_over(&self, request: TakeOverRequest) -> Result<TakeOver, LeadershipError> {
        let started = Instant::now();
        let timeout = Duration::from_millis(request.timeout_ms.unwrap_or(30_000));
        if !self.ready() {
            self.wait_ready(timeout)
                .await
                .map_err(|e| LeadershipError::NotReady(format!("{e:#}")))?;
        }
        self.role().await;
        let mut role = self.leadership.role.write().await;
        if let Role::Leader { epoch } = *role {
            return Ok(TakeOver {
                installation: self.installation().to_string(),
                epoch,
                fenced_by: "already leading".into(),
                waited_ms: 0,
            });
        }
        let (fences, fenced_by) = match request.fences {
            Some(fences) => (fences, "previous leader"),
            None => {
                let epoch = match &*role {
                    Role::Follower { epoch, .. } => *epoch,
                    _ => 0,
                }
                .max(self.latest_fence()?.map_or(0, |f| f.epoch))
                    + 1;
                let me = self.installation().to_string();
                (self.append_fences(epoch, &me).await?, "itself")
            }
        };
        let deadline = tokio::time::Instant::now() + timeout;
        for fence in &fences {
            let Some(follower) = self.core.follower_of(fence.topic) else {
                continue;
            };
            let tp = TopicPartition {
                domain: fence.topic,
                partition: fence.partition,
            };
            let mut progress = self.core.followers[follower].progress.clone();
            let reached = tokio::time::timeout_at(
                deadline,
                progress.wait_for(|p| p.has_applied(tp, fence.offset)),
            )
            .await;
            if !matches!(reached, Ok(Ok(_))) {
                return Err(LeadershipError::FenceNotReached(timeout));
            }
        }
        let latest = self.latest_fence()?;
        match latest {
            Some(fence) if fence.leader == self.installation() => {
                *role = Role::Leader { epoch: fence.epoch };
                tracing::info!(epoch = fence.epoch, fenced_by, "took the lead");
                Ok(TakeOver {
                    installation: self.installation().to_string(),
                    epoch: fence.epoch,
                    fenced_by: fenced_by.into(),
                    waited_ms: started.elapsed().as_millis() as u64,
                })
            }
            other => Err(LeadershipError::NotNamed {
                installation: self.installation().to_string(),
                named: other.map(|f| f.leader),
            }),
        }
    }
}
