//! The job engine through the running application: enqueue → worker → result, retries with
//! backoff (fake clock) then discard, unique keys, cooperative cancellation, rescue after a
//! dead worker's lease expires, and the jobs API. SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use async_trait::async_trait;
use conea_core::ids::JobId;
use conea_core::ids::OrgId;
use conea_core::Clock;
use conea_jobs::{Job, JobContext, JobError, JobFilter, JobHandler, JobState, NewJob};
use conea_testkit::{backend_tests, Backend, TestApp};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

struct FailAlways;
#[async_trait]
impl JobHandler for FailAlways {
    fn kind(&self) -> &'static str {
        "test.fail_always"
    }
    fn max_attempts(&self) -> u32 {
        3
    }
    async fn run(&self, ctx: &JobContext) -> Result<Value, JobError> {
        Err(JobError::retryable(format!(
            "boom on attempt {}",
            ctx.job.attempt
        )))
    }
}

struct Permanent;
#[async_trait]
impl JobHandler for Permanent {
    fn kind(&self) -> &'static str {
        "test.permanent"
    }
    async fn run(&self, _ctx: &JobContext) -> Result<Value, JobError> {
        Err(JobError::permanent("the arguments can never work"))
    }
}

struct Echo;
#[async_trait]
impl JobHandler for Echo {
    fn kind(&self) -> &'static str {
        "test.echo"
    }
    async fn run(&self, ctx: &JobContext) -> Result<Value, JobError> {
        ctx.progress(50, "half way").await;
        Ok(json!({"echo": ctx.job.args}))
    }
}

struct UntilCancelled;
#[async_trait]
impl JobHandler for UntilCancelled {
    fn kind(&self) -> &'static str {
        "test.until_cancelled"
    }
    async fn run(&self, ctx: &JobContext) -> Result<Value, JobError> {
        ctx.progress(10, "waiting to be cancelled").await;
        while !ctx.is_cancelled() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Err(JobError::retryable("stopped"))
    }
}

/// Jobs that wait for the gate to open, counting how many run at once.
#[derive(Default)]
struct Gate {
    open: AtomicBool,
    now: AtomicUsize,
    most: AtomicUsize,
}

struct Gated(Arc<Gate>);
#[async_trait]
impl JobHandler for Gated {
    fn kind(&self) -> &'static str {
        "test.gated"
    }
    async fn run(&self, _ctx: &JobContext) -> Result<Value, JobError> {
        let at_once = self.0.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.0.most.fetch_max(at_once, Ordering::SeqCst);
        while !self.0.open.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        self.0.now.fetch_sub(1, Ordering::SeqCst);
        Ok(json!("through"))
    }
}

async fn gated_app(b: Backend, overrides: &[(&str, &str)]) -> Option<(TestApp, Arc<Gate>)> {
    let gate = Arc::new(Gate::default());
    let app =
        TestApp::spawn_with_handlers(b, overrides, vec![Arc::new(Gated(gate.clone()))]).await?;
    Some((app, gate))
}

/// Enqueues `n` gated jobs in one statement, so the worker's first claim sees them all.
async fn enqueue_gated(app: &TestApp, n: usize) -> Vec<Job> {
    let org = org(app).await;
    let store = app.state.platform().jobs.store().clone();
    let jobs: Vec<NewJob> = (0..n)
        .map(|i| NewJob::new("test.gated", org.clone(), json!({ "n": i })))
        .collect();
    store.enqueue_many(&jobs, app.clock.now_ms()).await.unwrap();
    let filter = JobFilter {
        limit: 100,
        ..Default::default()
    };
    store.list(&org, &filter).await.unwrap()
}

/// Polls the jobs until `cond` holds for the list of them.
async fn wait_all(
    app: &TestApp,
    ids: &[JobId],
    what: &str,
    cond: impl Fn(&[Job]) -> bool,
) -> Vec<Job> {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let mut jobs = Vec::new();
        for id in ids {
            jobs.push(
                app.state
                    .platform()
                    .jobs
                    .get_any(id.as_str())
                    .await
                    .unwrap(),
            );
        }
        if cond(&jobs) {
            return jobs;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the jobs never became {what}: {jobs:#?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn count(jobs: &[Job], f: impl Fn(&Job) -> bool) -> usize {
    jobs.iter().filter(|j| f(j)).count()
}

async fn app(b: Backend) -> Option<TestApp> {
    TestApp::spawn_with_handlers(
        b,
        &[],
        vec![
            Arc::new(FailAlways),
            Arc::new(Permanent),
            Arc::new(Echo),
            Arc::new(UntilCancelled),
        ],
    )
    .await
}

async fn org(app: &TestApp) -> OrgId {
    let id = app
        .client
        .get("/v1/auth/verify", Some(app.owner()))
        .await
        .body["organization_id"]
        .as_str()
        .unwrap()
        .to_owned();
    OrgId::parse(&id).unwrap()
}

async fn enqueue(app: &TestApp, job: NewJob) -> Job {
    app.state.platform().jobs.enqueue(job).await.unwrap().job
}

/// Polls the job until `cond` holds (the worker runs in real time; the deadline only guards
/// against a hang).
async fn wait_for(app: &TestApp, id: &str, what: &str, cond: impl Fn(&Job) -> bool) -> Job {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let job = app.state.platform().jobs.get_any(id).await.unwrap();
        if cond(&job) {
            return job;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "job {id} never became {what}: {job:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

backend_tests!(
    enqueued_job_runs_to_completion_and_is_visible_through_the_api,
    failing_job_is_retried_with_backoff_then_discarded_with_its_errors,
    permanent_failure_is_discarded_at_once_and_can_be_retried_by_hand,
    unique_key_allows_one_live_job,
    running_job_stops_when_cancelled,
    job_of_a_dead_worker_is_rescued_after_its_lease_and_completes_once,
    other_organizations_jobs_answer_404_and_lists_filter_and_page,
    claiming_ahead_never_runs_more_jobs_at_once_than_the_concurrency,
    shutdown_releases_jobs_claimed_ahead_without_counting_an_attempt,
    jobs_a_crashed_worker_claimed_ahead_run_again_without_an_attempt_counted,
    a_job_that_progressed_before_its_worker_died_is_resumed_without_an_attempt_counted,
);

async fn enqueued_job_runs_to_completion_and_is_visible_through_the_api(b: Backend) {
    let Some(app) = app(b).await else { return };
    let job = enqueue(
        &app,
        NewJob::new("test.echo", org(&app).await, json!({"n": 7})),
    )
    .await;
    assert_eq!(job.state, JobState::Available);
    wait_for(&app, job.id.as_str(), "completed", |j| {
        j.state == JobState::Completed
    })
    .await;
    let r = app
        .client
        .get(&format!("/v1/jobs/{}", job.id), Some(app.owner()))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["status"], "completed");
    assert_eq!(r.body["result"], json!({"echo": {"n": 7}}));
    assert_eq!(r.body["progress"], 100);
    assert_eq!(r.body["attempts"], 1);
    assert!(r.body["started_at"].is_string() && r.body["finished_at"].is_string());
    // The completion ledger holds exactly one row for it.
    let runs: i64 =
        conea_store::with_pool!(app.state.store().db(), |p| sqlx::query_scalar::<DB, i64>(
            "SELECT COUNT(*) FROM job_runs WHERE job_id = $1"
        )
        .bind(job.id.as_str())
        .fetch_one(p)
        .await)
        .unwrap();
    assert_eq!(runs, 1);
    // Its run's CPU time is accounted to its kind (`conea_job_cpu_seconds_total`).
    let cpu = app.state.metrics().cpu().jobs().snapshot();
    assert!(
        cpu.get("test.echo").is_some_and(|s| *s > 0.0),
        "CPU by job kind: {cpu:?}"
    );
}

async fn failing_job_is_retried_with_backoff_then_discarded_with_its_errors(b: Backend) {
    let Some(app) = app(b).await else { return };
    let job = enqueue(
        &app,
        NewJob::new("test.fail_always", org(&app).await, json!({})),
    )
    .await;
    assert_eq!(job.max_attempts, 3, "the kind's max attempts apply");
    let first = wait_for(&app, job.id.as_str(), "retryable", |j| {
        j.state == JobState::Retryable
    })
    .await;
    assert_eq!(first.attempt, 1);
    let delay = first.scheduled_at - app.clock.now_ms();
    assert!(
        (1_500..=2_500).contains(&delay),
        "first retry 2 s ± 25 % later, got {delay} ms"
    );
    // Not before its time...
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        app.state
            .platform()
            .jobs
            .get_any(job.id.as_str())
            .await
            .unwrap()
            .attempt,
        1
    );
    // ...and at its time.
    app.clock.advance(Duration::from_millis(delay as u64));
    let second = wait_for(&app, job.id.as_str(), "retried", |j| {
        j.attempt == 2 && j.state == JobState::Retryable
    })
    .await;
    let delay2 = second.scheduled_at - app.clock.now_ms();
    assert!(
        (3_000..=5_000).contains(&delay2),
        "second retry 4 s ± 25 % later, got {delay2} ms"
    );
    app.clock.advance(Duration::from_millis(delay2 as u64));
    let done = wait_for(&app, job.id.as_str(), "discarded", |j| {
        j.state == JobState::Discarded
    })
    .await;
    assert_eq!(done.attempt, 3);
    let errors: Vec<&str> = done.errors.iter().map(|e| e.error.as_str()).collect();
    assert_eq!(
        errors,
        vec![
            "boom on attempt 1",
            "boom on attempt 2",
            "boom on attempt 3"
        ]
    );
    let r = app
        .client
        .get(&format!("/v1/jobs/{}", job.id), Some(app.owner()))
        .await;
    assert_eq!(r.body["errors"].as_array().unwrap().len(), 3);
    assert_eq!(r.body["errors"][2]["attempt"], 3);
}

async fn permanent_failure_is_discarded_at_once_and_can_be_retried_by_hand(b: Backend) {
    let Some(app) = app(b).await else { return };
    let job = enqueue(
        &app,
        NewJob::new("test.permanent", org(&app).await, json!({})),
    )
    .await;
    let done = wait_for(&app, job.id.as_str(), "discarded", |j| {
        j.state == JobState::Discarded
    })
    .await;
    assert_eq!(done.attempt, 1);
    let path = format!("/v1/jobs/{}/retry", job.id);
    let r = app.client.post(&path, Some(app.owner()), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["id"], job.id.as_str());
    let again = wait_for(&app, job.id.as_str(), "discarded again", |j| {
        j.state == JobState::Discarded && j.errors.len() == 2
    })
    .await;
    assert_eq!(again.attempt, 1, "a retried job starts with fresh attempts");
    // Only discarded or cancelled jobs can be retried.
    let echo = enqueue(&app, NewJob::new("test.echo", org(&app).await, json!({}))).await;
    wait_for(&app, echo.id.as_str(), "completed", |j| {
        j.state == JobState::Completed
    })
    .await;
    app.client
        .post(
            &format!("/v1/jobs/{}/retry", echo.id),
            Some(app.owner()),
            json!({}),
        )
        .await
        .assert_error(409, "job_not_retryable");
}

async fn unique_key_allows_one_live_job(b: Backend) {
    let Some(app) = app(b).await else { return };
    let org = org(&app).await;
    let mut j = NewJob::new("test.until_cancelled", org.clone(), json!({}));
    j.unique_key = Some("sync:shop_1".into());
    let first = app.state.platform().jobs.enqueue(j.clone()).await.unwrap();
    let second = app.state.platform().jobs.enqueue(j.clone()).await.unwrap();
    assert!(first.created && !second.created);
    assert_eq!(first.job.id, second.job.id);
    // Another key is another job.
    let mut other = j.clone();
    other.unique_key = Some("sync:shop_2".into());
    let third = app.state.platform().jobs.enqueue(other).await.unwrap();
    assert!(third.created);
    // Once the first is final, the key is free again.
    wait_for(&app, first.job.id.as_str(), "running", |j| {
        j.state == JobState::Running
    })
    .await;
    app.client
        .post(
            &format!("/v1/jobs/{}/cancel", first.job.id),
            Some(app.owner()),
            json!({}),
        )
        .await;
    wait_for(&app, first.job.id.as_str(), "cancelled", |j| {
        j.state == JobState::Cancelled
    })
    .await;
    let fourth = app.state.platform().jobs.enqueue(j).await.unwrap();
    assert!(fourth.created);
    assert_ne!(fourth.job.id, first.job.id);
    app.client
        .post(
            &format!("/v1/jobs/{}/cancel", fourth.job.id),
            Some(app.owner()),
            json!({}),
        )
        .await;
    app.client
        .post(
            &format!("/v1/jobs/{}/cancel", third.job.id),
            Some(app.owner()),
            json!({}),
        )
        .await;
}

async fn running_job_stops_when_cancelled(b: Backend) {
    let Some(app) = app(b).await else { return };
    let job = enqueue(
        &app,
        NewJob::new("test.until_cancelled", org(&app).await, json!({})),
    )
    .await;
    let running = wait_for(&app, job.id.as_str(), "running", |j| {
        j.state == JobState::Running && j.progress == 10
    })
    .await;
    assert_eq!(
        running.progress_message.as_deref(),
        Some("waiting to be cancelled")
    );
    let r = app
        .client
        .post(
            &format!("/v1/jobs/{}/cancel", job.id),
            Some(app.owner()),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["cancel_requested"], true);
    let done = wait_for(&app, job.id.as_str(), "cancelled", |j| {
        j.state == JobState::Cancelled
    })
    .await;
    assert!(done.finished_at.is_some());
    app.client
        .post(
            &format!("/v1/jobs/{}/cancel", job.id),
            Some(app.owner()),
            json!({}),
        )
        .await
        .assert_error(409, "job_finished");
    // A job that has not started is cancelled at once.
    let mut later = NewJob::new("test.echo", org(&app).await, json!({}));
    later.scheduled_at = Some(app.clock.now_ms() + 3_600_000);
    let later = enqueue(&app, later).await;
    assert_eq!(later.state, JobState::Scheduled);
    let r = app
        .client
        .post(
            &format!("/v1/jobs/{}/cancel", later.id),
            Some(app.owner()),
            json!({}),
        )
        .await;
    assert_eq!(r.body["status"], "cancelled");
}

async fn job_of_a_dead_worker_is_rescued_after_its_lease_and_completes_once(b: Backend) {
    let Some(app) = app(b).await else { return };
    let store = app.state.platform().jobs.store().clone();
    // A job scheduled in the future, so the app's own worker leaves it alone while a
    // "worker that then dies" claims it.
    let mut j = NewJob::new("test.echo", org(&app).await, json!({"rescued": true}));
    j.scheduled_at = Some(app.clock.now_ms() + 60_000);
    let job = enqueue(&app, j).await;
    let claimed = store
        .claim(
            "dead-worker",
            10,
            10,
            app.clock.now_ms() + 60_000,
            Duration::from_secs(3),
        )
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].lease_owner.as_deref(), Some("dead-worker"));
    // The dead worker never heartbeats. Past its lease, the live worker's rescuer takes over.
    app.clock.advance(Duration::from_secs(64));
    let rescued = wait_for(&app, job.id.as_str(), "rescued", |j| !j.errors.is_empty()).await;
    assert!(
        rescued.errors[0].error.contains("dead-worker"),
        "{:?}",
        rescued.errors
    );
    app.clock.advance(Duration::from_secs(5));
    let done = wait_for(&app, job.id.as_str(), "completed", |j| {
        j.state == JobState::Completed
    })
    .await;
    assert_eq!(done.attempt, 2);
    // The dead worker, had it come back, cannot complete it again: its lease is gone.
    let late = store
        .finish(
            "dead-worker",
            &[(
                claimed[0].clone(),
                conea_jobs::Outcome::Completed {
                    result: json!("late"),
                },
            )],
            app.clock.now_ms(),
        )
        .await
        .unwrap();
    assert_eq!(late, 0, "fenced by the lease owner");
    assert_eq!(
        app.state
            .platform()
            .jobs
            .get_any(job.id.as_str())
            .await
            .unwrap()
            .result,
        Some(json!({"echo": {"rescued": true}}))
    );
}

async fn other_organizations_jobs_answer_404_and_lists_filter_and_page(b: Backend) {
    let Some(app) = app(b).await else { return };
    let acme = app
        .client
        .post(
            "/v1/organizations",
            Some(app.owner()),
            json!({"slug": "acme"}),
        )
        .await;
    let acme_id = OrgId::parse(acme.body["id"].as_str().unwrap()).unwrap();
    let acme_key = app
        .state
        .accounts()
        .create_key(
            None,
            &acme_id,
            "acme",
            [
                conea_core::permissions::Permission::JobsRead,
                conea_core::permissions::Permission::JobsWrite,
            ]
            .into_iter()
            .collect(),
            None,
        )
        .await
        .unwrap()
        .secret;
    let mine = enqueue(&app, NewJob::new("test.echo", org(&app).await, json!({}))).await;
    app.client
        .get(&format!("/v1/jobs/{}", mine.id), Some(&acme_key))
        .await
        .assert_error(404, "not_found");
    app.client
        .post(
            &format!("/v1/jobs/{}/cancel", mine.id),
            Some(&acme_key),
            json!({}),
        )
        .await
        .assert_error(404, "not_found");
    app.client
        .get(
            "/v1/jobs/job_00000000000000000000000000000000",
            Some(app.owner()),
        )
        .await
        .assert_error(404, "not_found");
    for _ in 0..3 {
        enqueue(
            &app,
            NewJob::new("test.permanent", org(&app).await, json!({})),
        )
        .await;
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let r = app
            .client
            .get("/v1/jobs?status=discarded", Some(app.owner()))
            .await;
        if r.body["data"].as_array().map(|d| d.len()) == Some(3) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{}", r.text);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let page = app
        .client
        .get("/v1/jobs?kind=test.permanent&limit=2", Some(app.owner()))
        .await;
    assert_eq!(page.body["data"].as_array().unwrap().len(), 2);
    let cursor = page.body["next_cursor"].as_str().unwrap();
    let rest = app
        .client
        .get(
            &format!("/v1/jobs?kind=test.permanent&limit=2&cursor={cursor}"),
            Some(app.owner()),
        )
        .await;
    assert_eq!(rest.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(rest.body["next_cursor"], Value::Null);
    assert!(
        app.client.get("/v1/jobs", Some(&acme_key)).await.body["data"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    app.client
        .get("/v1/jobs?status=sleeping", Some(app.owner()))
        .await
        .assert_error(400, "invalid_parameter");
    // A key without jobs:read is refused.
    let r = app
        .client
        .post(
            "/v1/api-keys",
            Some(app.owner()),
            json!({"name": "d", "permissions": ["data:read"]}),
        )
        .await;
    let reader = r.body["secret"].as_str().unwrap();
    app.client
        .get("/v1/jobs", Some(reader))
        .await
        .assert_error(403, "insufficient_permissions");
}

async fn claiming_ahead_never_runs_more_jobs_at_once_than_the_concurrency(b: Backend) {
    let overrides = [
        ("CONEA_WORKER_CONCURRENCY", "3"),
        ("CONEA_JOB_CLAIM_AHEAD", "3"),
    ];
    let Some((app, gate)) = gated_app(b, &overrides).await else {
        return;
    };
    let ids: Vec<JobId> = enqueue_gated(&app, 12)
        .await
        .into_iter()
        .map(|j| j.id)
        .collect();
    // Three execute (their attempt counted), three more wait in the worker's buffer.
    let held = wait_all(&app, &ids, "3 started and 3 claimed ahead", |jobs| {
        count(jobs, |j| j.state == JobState::Running && !j.claimed_ahead) == 3
            && count(jobs, |j| j.claimed_ahead) == 3
    })
    .await;
    for j in held.iter().filter(|j| j.claimed_ahead) {
        assert_eq!((j.attempt, j.started_at), (0, None), "not started: {j:?}");
    }
    assert_eq!(gate.now.load(Ordering::SeqCst), 3);
    gate.open.store(true, Ordering::SeqCst);
    let done = wait_all(&app, &ids, "completed", |jobs| {
        jobs.iter().all(|j| j.state == JobState::Completed)
    })
    .await;
    assert_eq!(
        gate.most.load(Ordering::SeqCst),
        3,
        "never more than the concurrency at once"
    );
    for j in &done {
        assert_eq!(j.attempt, 1, "each attempt counted once: {j:?}");
        assert!(
            j.errors.is_empty() && j.started_at.is_some() && !j.claimed_ahead,
            "{j:?}"
        );
    }
}

async fn shutdown_releases_jobs_claimed_ahead_without_counting_an_attempt(b: Backend) {
    // No worker of the app's own: the test runs one with 1 slot and 3 jobs claimed ahead.
    let overrides = [
        ("CONEA_WORKER_CONCURRENCY", "0"),
        ("CONEA_JOB_CLAIM_AHEAD", "3"),
    ];
    let Some((app, gate)) = gated_app(b, &overrides).await else {
        return;
    };
    let ids: Vec<JobId> = enqueue_gated(&app, 4)
        .await
        .into_iter()
        .map(|j| j.id)
        .collect();
    let worker = app.state.platform().worker(
        "worker-shutting-down".into(),
        1,
        Arc::new(conea_jobs::worker::NoObserver),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(worker.run(
        async move {
            let _ = stopped.await;
        },
        Duration::from_secs(10),
    ));
    wait_all(&app, &ids, "1 started and 3 claimed ahead", |jobs| {
        count(jobs, |j| j.state == JobState::Running && !j.claimed_ahead) == 1
            && count(jobs, |j| j.claimed_ahead) == 3
    })
    .await;
    stop.send(()).unwrap();
    // The buffer goes back at once, while the running job still holds its slot.
    let released = wait_all(&app, &ids, "released", |jobs| {
        count(jobs, |j| j.state == JobState::Available) == 3
    })
    .await;
    gate.open.store(true, Ordering::SeqCst);
    run.await.unwrap();
    let after = wait_all(&app, &ids, "settled", |jobs| {
        count(jobs, |j| j.state == JobState::Completed) == 1
    })
    .await;
    assert_eq!(gate.most.load(Ordering::SeqCst), 1);
    for j in released
        .iter()
        .chain(&after)
        .filter(|j| j.state == JobState::Available)
    {
        assert_eq!(j.attempt, 0, "no attempt counted: {j:?}");
        assert!(
            j.errors.is_empty() && !j.claimed_ahead && j.lease_owner.is_none(),
            "{j:?}"
        );
    }
    let completed: Vec<&Job> = after
        .iter()
        .filter(|j| j.state == JobState::Completed)
        .collect();
    assert_eq!(completed[0].attempt, 1);
}

async fn jobs_a_crashed_worker_claimed_ahead_run_again_without_an_attempt_counted(b: Backend) {
    let Some(app) = app(b).await else { return };
    let store = app.state.platform().jobs.store().clone();
    let org = org(&app).await;
    // Scheduled in the future, so the app's own worker leaves them alone while a worker that
    // then crashes claims them: one started, two claimed ahead.
    let mut ids = Vec::new();
    for n in 0..3 {
        let mut j = NewJob::new("test.echo", org.clone(), json!({ "n": n }));
        j.scheduled_at = Some(app.clock.now_ms() + 60_000);
        ids.push(enqueue(&app, j).await.id);
    }
    let claimed = store
        .claim(
            "crashed-worker",
            3,
            1,
            app.clock.now_ms() + 60_000,
            Duration::from_secs(3),
        )
        .await
        .unwrap();
    assert_eq!(claimed.len(), 3);
    let (ahead, started): (Vec<&Job>, Vec<&Job>) = claimed.iter().partition(|j| j.claimed_ahead);
    assert_eq!((started.len(), started[0].attempt), (1, 1));
    assert!(ahead
        .iter()
        .all(|j| j.attempt == 0 && j.state == JobState::Running));
    // It never heartbeats. Past its lease the live worker rescues and runs all three.
    app.clock.advance(Duration::from_secs(64));
    wait_all(&app, &ids, "rescued", |jobs| {
        jobs.iter().all(|j| {
            j.state != JobState::Running || j.lease_owner.as_deref() != Some("crashed-worker")
        })
    })
    .await;
    app.clock.advance(Duration::from_secs(5));
    let done = wait_all(&app, &ids, "completed", |jobs| {
        jobs.iter().all(|j| j.state == JobState::Completed)
    })
    .await;
    for j in &done {
        if j.id == started[0].id {
            assert_eq!(
                (j.attempt, j.errors.len()),
                (2, 1),
                "the started one lost an attempt: {j:?}"
            );
        } else {
            assert_eq!(
                j.attempt, 1,
                "claimed ahead, never started: no attempt lost: {j:?}"
            );
            assert!(j.errors.is_empty(), "{j:?}");
        }
    }
}

/// A worker killed in the middle of a job that advanced its progress (an import that
/// committed batches) costs the job no attempt: it goes back to the queue and resumes. A job
/// that made no progress before the crash still counts it, so one that kills its worker at
/// the same point every time ends discarded rather than looping.
async fn a_job_that_progressed_before_its_worker_died_is_resumed_without_an_attempt_counted(
    b: Backend,
) {
    let Some(app) = app(b).await else { return };
    let store = app.state.platform().jobs.store().clone();
    let org = org(&app).await;
    let mut ids = Vec::new();
    for n in 0..2 {
        let mut j = NewJob::new("test.echo", org.clone(), json!({ "n": n }));
        j.scheduled_at = Some(app.clock.now_ms() + 60_000);
        ids.push(enqueue(&app, j).await.id);
    }
    let claimed = store
        .claim(
            "crashed-worker",
            2,
            2,
            app.clock.now_ms() + 60_000,
            Duration::from_secs(3),
        )
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2);
    assert!(claimed.iter().all(|j| j.attempt == 1 && !j.claimed_ahead));
    let (progressed, stalled) = (&claimed[0].id, &claimed[1].id);
    store
        .set_progress("crashed-worker", progressed, 40, Some("80000 rows read"))
        .await
        .unwrap();
    // The worker dies; past its lease the live worker rescues and runs both.
    app.clock.advance(Duration::from_secs(64));
    wait_all(&app, &ids, "rescued", |jobs| {
        jobs.iter().all(|j| {
            j.state != JobState::Running || j.lease_owner.as_deref() != Some("crashed-worker")
        })
    })
    .await;
    app.clock.advance(Duration::from_secs(5));
    let done = wait_all(&app, &ids, "completed", |jobs| {
        jobs.iter().all(|j| j.state == JobState::Completed)
    })
    .await;
    for j in &done {
        assert_eq!(j.errors.len(), 1, "the crash is on record: {j:?}");
        if &j.id == progressed {
            assert_eq!(j.attempt, 1, "progressed: no attempt lost: {j:?}");
            assert!(j.errors[0].error.contains("without counting"), "{j:?}");
        } else {
            assert_eq!(&j.id, stalled);
            assert_eq!(j.attempt, 2, "no progress: the crash counts: {j:?}");
        }
    }
}
