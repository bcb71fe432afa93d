//! The operations guide's first steps — deployments and pods, events, resource usage — read
//! from the Kubernetes API with the pod's ServiceAccount (the chart's read-only Role), so
//! `kubectl` is not needed in the pod. Each finding says what is wrong and what fixes it.
//!
//! Four GETs of the core, apps and metrics APIs, read as JSON with reqwest (already the
//! CLI's client): a Kubernetes client crate would add its generated API types (the largest
//! compile in the workspace) for these four reads.

use super::{timed, Check};
use serde_json::Value;
use std::path::PathBuf;

/// Where the API is and how to authenticate: in a pod, from `KUBERNETES_SERVICE_HOST`/`PORT`
/// and the mounted ServiceAccount; in tests and from outside, given.
pub struct Cluster {
    pub api_url: String,
    pub token_file: PathBuf,
    /// The cluster CA (PEM), when the API is https with a private CA.
    pub ca_file: Option<PathBuf>,
    pub namespace: String,
}

/// The ServiceAccount's mount in every pod.
pub const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// The label every object of the chart carries.
const SELECTOR: &str = "app.kubernetes.io/part-of=conea";

struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
    namespace: String,
}

impl Api {
    /// `Ok(None)`: the API answered 404 (e.g. no metrics API installed).
    async fn get(&self, path: &str) -> Result<Option<Value>, String> {
        let url = format!("{}{path}", self.base);
        let r = self
            .http
            .get(&url)
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        match r.status().as_u16() {
            404 => Ok(None),
            401 | 403 => Err(format!(
                "the ServiceAccount may not read {path} ({}): install the chart with rbac.create=true (a read-only Role)",
                r.status()
            )),
            s if !(200..300).contains(&s) => Err(format!("{path}: HTTP {s}")),
            _ => r.json().await.map(Some).map_err(|e| e.to_string()),
        }
    }
}

pub async fn run(cluster: &Cluster) -> Vec<Check> {
    let token = match std::fs::read_to_string(&cluster.token_file) {
        Ok(t) => t.trim().to_owned(),
        Err(e) => {
            return vec![Check::fail(
                "k8s",
                format!(
                    "cannot read the ServiceAccount token {}: {e}",
                    cluster.token_file.display()
                ),
                "run inside the pod (automountServiceAccountToken) or pass --kube-token-file",
            )]
        }
    };
    let mut builder = reqwest::Client::builder().timeout(super::CHECK_TIMEOUT);
    if let Some(ca) = &cluster.ca_file {
        match std::fs::read(ca).map(|pem| reqwest::Certificate::from_pem(&pem)) {
            Ok(Ok(cert)) => builder = builder.add_root_certificate(cert),
            Ok(Err(e)) => return vec![Check::fail("k8s", format!("{}: {e}", ca.display()), "")],
            Err(e) => return vec![Check::fail("k8s", format!("{}: {e}", ca.display()), "")],
        }
    }
    let http = match builder.build() {
        Ok(h) => h,
        Err(e) => return vec![Check::fail("k8s", e.to_string(), "")],
    };
    let api = Api {
        http,
        base: cluster.api_url.trim_end_matches('/').to_owned(),
        token,
        namespace: cluster.namespace.clone(),
    };
    let mut out = Vec::new();
    out.extend(timed("k8s.deployments", deployments(&api)).await);
    let pods = api
        .get(&format!(
            "/api/v1/namespaces/{}/pods?labelSelector={SELECTOR}",
            api.namespace
        ))
        .await;
    out.extend(match &pods {
        Ok(Some(p)) => pod_checks(p),
        Ok(None) => vec![Check::warn("k8s.pods", "no pods API found", "")],
        Err(e) => vec![Check::fail("k8s.pods", e.clone(), "")],
    });
    out.extend(timed("k8s.events", events(&api)).await);
    if let Ok(Some(p)) = &pods {
        out.extend(timed("k8s.resources", resources(&api, p)).await);
    }
    out
}

fn items(v: &Value) -> &[Value] {
    v["items"].as_array().map(Vec::as_slice).unwrap_or(&[])
}

fn name(v: &Value) -> &str {
    v["metadata"]["name"].as_str().unwrap_or("?")
}

async fn deployments(api: &Api) -> Vec<Check> {
    let list = match api
        .get(&format!(
            "/apis/apps/v1/namespaces/{}/deployments?labelSelector={SELECTOR}",
            api.namespace
        ))
        .await
    {
        Ok(Some(l)) => l,
        Ok(None) => {
            return vec![Check::warn(
                "k8s.deployments",
                "no deployments API found",
                "",
            )]
        }
        Err(e) => return vec![Check::fail("k8s.deployments", e, "")],
    };
    if items(&list).is_empty() {
        return vec![Check::fail(
            "k8s.deployments",
            format!("no Conea deployments in namespace {}", api.namespace),
            "helm install conea ./deploy/helm/conea -n <namespace> (docs/operations.md, Kubernetes)",
        )];
    }
    items(&list)
        .iter()
        .map(|d| {
            let n = name(d);
            let check = format!("k8s.deployment.{n}");
            let want = d["spec"]["replicas"].as_u64().unwrap_or(1);
            let available = d["status"]["availableReplicas"].as_u64().unwrap_or(0);
            let updated = d["status"]["updatedReplicas"].as_u64().unwrap_or(0);
            let stuck = d["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["reason"] == "ProgressDeadlineExceeded");
            if let Some(c) = stuck {
                Check::fail(
                    &check,
                    format!(
                        "rollout stuck: {} ({updated}/{want} updated, {available} available)",
                        c["message"].as_str().unwrap_or("progress deadline exceeded")
                    ),
                    format!("the new pods do not become ready: see k8s.pod findings; roll back with `helm rollback conea` or `kubectl rollout undo deployment/{n}`"),
                )
            } else if available < want {
                Check::fail(
                    &check,
                    format!("{available}/{want} replicas available ({updated} updated)"),
                    "see the k8s.pod findings below for why pods are not ready",
                )
            } else if updated < want {
                Check::warn(
                    &check,
                    format!("rolling out: {updated}/{want} updated, {available} available"),
                    format!("wait, or follow it with `kubectl rollout status deployment/{n}`"),
                )
            } else {
                Check::ok(&check, format!("{available}/{want} replicas available"))
            }
        })
        .collect()
}

fn pod_checks(list: &Value) -> Vec<Check> {
    let mut out = Vec::new();
    for pod in items(list) {
        let n = name(pod);
        let check = format!("k8s.pod.{n}");
        let secrets: Vec<&str> = pod["spec"]["imagePullSecrets"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["name"].as_str())
            .collect();
        let mut problems: Vec<Check> = Vec::new();
        let statuses = pod["status"]["initContainerStatuses"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(
                pod["status"]["containerStatuses"]
                    .as_array()
                    .into_iter()
                    .flatten(),
            );
        for c in statuses {
            let container = c["name"].as_str().unwrap_or("?");
            let restarts = c["restartCount"].as_u64().unwrap_or(0);
            let waiting = c["state"]["waiting"]["reason"].as_str();
            let last = c["lastState"]["terminated"]["reason"].as_str();
            let last_code = c["lastState"]["terminated"]["exitCode"].as_i64();
            match waiting {
                Some("ImagePullBackOff") | Some("ErrImagePull") => problems.push(Check::fail(
                    &check,
                    format!(
                        "{container}: {} for {} ({})",
                        waiting.unwrap_or_default(),
                        c["image"].as_str().unwrap_or("?"),
                        if secrets.is_empty() {
                            "no imagePullSecrets".to_owned()
                        } else {
                            format!("imagePullSecrets: {}", secrets.join(", "))
                        }
                    ),
                    if secrets.is_empty() {
                        "a private registry needs a pull secret: `kubectl create secret docker-registry regcred …` and set imagePullSecrets: [{name: regcred}] in the chart's values".to_owned()
                    } else {
                        format!("check that secret {} exists in this namespace and holds valid registry credentials, and that the image tag exists", secrets.join(", "))
                    },
                )),
                Some("CrashLoopBackOff") => problems.push(Check::fail(
                    &check,
                    format!(
                        "{container}: CrashLoopBackOff after {restarts} restarts (last exit: {}{})",
                        last.unwrap_or("unknown"),
                        last_code.map(|c| format!(", code {c}")).unwrap_or_default()
                    ),
                    if last == Some("OOMKilled") {
                        "killed for memory: raise resources.limits.memory or find the growth (docs/operations.md, Memory grows)".to_owned()
                    } else {
                        format!("read why it exits: `kubectl logs {n} -c {container} --previous`; Conea names a missing setting or unreachable service in one line (docs/operations.md, The service does not start)")
                    },
                )),
                Some("CreateContainerConfigError") => problems.push(Check::fail(
                    &check,
                    format!(
                        "{container}: CreateContainerConfigError: {}",
                        c["state"]["waiting"]["message"].as_str().unwrap_or("")
                    ),
                    "a ConfigMap or Secret the pod names is missing: `kubectl get configmap conea-config` and `kubectl get secret conea-secrets`",
                )),
                _ if last == Some("OOMKilled") => problems.push(Check::fail(
                    &check,
                    format!("{container}: OOMKilled ({restarts} restarts)"),
                    "killed for memory: raise resources.limits.memory or find the growth (docs/operations.md, Memory grows)",
                )),
                _ if restarts > 0 => problems.push(Check::warn(
                    &check,
                    format!(
                        "{container}: {restarts} restarts (last: {})",
                        last.unwrap_or("unknown")
                    ),
                    format!("`kubectl logs {n} -c {container} --previous` shows the last run's end"),
                )),
                _ => {}
            }
        }
        if problems.is_empty() {
            let phase = pod["status"]["phase"].as_str().unwrap_or("?");
            out.push(if phase == "Running" || phase == "Succeeded" {
                Check::ok(&check, phase)
            } else {
                Check::warn(
                    &check,
                    format!("phase {phase}"),
                    "`kubectl describe pod` shows why",
                )
            });
        } else {
            out.extend(problems);
        }
    }
    if out.is_empty() {
        out.push(Check::fail(
            "k8s.pods",
            "no Conea pods",
            "the deployments have no pods: `kubectl describe deployment` and the events below",
        ));
    }
    out
}

async fn events(api: &Api) -> Vec<Check> {
    let list = match api
        .get(&format!(
            "/api/v1/namespaces/{}/events?fieldSelector=type%3DWarning",
            api.namespace
        ))
        .await
    {
        Ok(Some(l)) => l,
        Ok(None) => return vec![],
        Err(e) => return vec![Check::fail("k8s.events", e, "")],
    };
    let warnings = items(&list);
    if warnings.is_empty() {
        return vec![Check::ok("k8s.events", "no warning events")];
    }
    let mut by_reason: std::collections::BTreeMap<&str, (u64, String)> = Default::default();
    for e in warnings {
        let reason = e["reason"].as_str().unwrap_or("?");
        let entry = by_reason.entry(reason).or_insert((0, String::new()));
        entry.0 += e["count"].as_u64().unwrap_or(1);
        entry.1 = format!(
            "{} {}: {}",
            e["involvedObject"]["kind"].as_str().unwrap_or(""),
            e["involvedObject"]["name"].as_str().unwrap_or(""),
            e["message"].as_str().unwrap_or("")
        );
    }
    let summary: Vec<String> = by_reason
        .iter()
        .map(|(r, (n, last))| format!("{r} ×{n} (last: {last})"))
        .collect();
    vec![Check::warn(
        "k8s.events",
        format!("{} warning events: {}", warnings.len(), summary.join("; ")),
        "each reason is the cluster's own explanation; FailedScheduling means no node has the requested CPU/memory, BackOff and Unhealthy follow the pod findings above",
    )]
}

/// Bytes of a memory quantity (`512Mi`, `2Gi`, `1G`, `123456`).
pub fn bytes(q: &str) -> Option<f64> {
    const UNITS: [(&str, f64); 10] = [
        ("Ki", 1024.0),
        ("Mi", 1048576.0),
        ("Gi", 1073741824.0),
        ("Ti", 1099511627776.0),
        ("k", 1e3),
        ("K", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("m", 1e-3),
    ];
    for (suffix, factor) in UNITS {
        if let Some(n) = q.strip_suffix(suffix) {
            return n.parse::<f64>().ok().map(|n| n * factor);
        }
    }
    q.parse().ok()
}

/// Cores of a CPU quantity (`500m`, `2`, `250000000n`, `1500u`).
pub fn cores(q: &str) -> Option<f64> {
    for (suffix, factor) in [("n", 1e-9), ("u", 1e-6), ("m", 1e-3)] {
        if let Some(n) = q.strip_suffix(suffix) {
            return n.parse::<f64>().ok().map(|n| n * factor);
        }
    }
    q.parse().ok()
}

async fn resources(api: &Api, pods: &Value) -> Vec<Check> {
    let metrics = match api
        .get(&format!(
            "/apis/metrics.k8s.io/v1beta1/namespaces/{}/pods?labelSelector={SELECTOR}",
            api.namespace
        ))
        .await
    {
        Ok(Some(m)) => m,
        Ok(None) => {
            return vec![Check::ok(
                "k8s.resources",
                "the metrics API is not installed: live usage unknown (requests and limits are the chart's)",
            )]
        }
        Err(e) => return vec![Check::warn("k8s.resources", e, "")],
    };
    let mut out = Vec::new();
    for m in items(&metrics) {
        let pod_name = name(m);
        let Some(pod) = items(pods).iter().find(|p| name(p) == pod_name) else {
            continue;
        };
        for c in m["containers"].as_array().into_iter().flatten() {
            let cname = c["name"].as_str().unwrap_or("?");
            let spec = pod["spec"]["containers"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|s| s["name"] == cname);
            let limit = |what: &str| {
                spec.and_then(|s| s["resources"]["limits"][what].as_str())
                    .map(str::to_owned)
            };
            let check = format!("k8s.resources.{pod_name}");
            let mem = c["usage"]["memory"].as_str().and_then(bytes);
            let mem_limit = limit("memory").as_deref().and_then(bytes);
            let cpu = c["usage"]["cpu"].as_str().and_then(cores);
            let cpu_limit = limit("cpu").as_deref().and_then(cores);
            let mut notes = Vec::new();
            let mut worst = 0.0f64;
            if let (Some(u), Some(l)) = (mem, mem_limit) {
                worst = worst.max(u / l);
                notes.push(format!(
                    "memory {:.0} Mi of {:.0} Mi ({:.0} %)",
                    u / 1048576.0,
                    l / 1048576.0,
                    100.0 * u / l
                ));
            }
            if let (Some(u), Some(l)) = (cpu, cpu_limit) {
                worst = worst.max(u / l);
                notes.push(format!(
                    "CPU {:.0}m of {:.0}m ({:.0} %)",
                    u * 1000.0,
                    l * 1000.0,
                    100.0 * u / l
                ));
            }
            let finding = format!("{cname}: {}", notes.join(", "));
            out.push(if worst >= 0.9 {
                Check::warn(
                    &check,
                    finding,
                    "near its limit: memory over the limit is OOMKilled, CPU over it is throttled; raise resources.limits or scale out (autoscaling) — docs/operations.md, Memory grows / Performance",
                )
            } else {
                Check::ok(&check, finding)
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_read_as_kubernetes_writes_them() {
        assert_eq!(bytes("512Mi"), Some(536870912.0));
        assert_eq!(bytes("2Gi"), Some(2147483648.0));
        assert_eq!(bytes("1G"), Some(1e9));
        assert_eq!(bytes("123456"), Some(123456.0));
        assert_eq!(cores("500m"), Some(0.5));
        assert_eq!(cores("2"), Some(2.0));
        assert_eq!(cores("250000000n"), Some(0.25));
        assert_eq!(bytes("lots"), None);
    }
}
