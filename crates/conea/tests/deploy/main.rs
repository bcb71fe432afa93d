//! The deployment files stay valid: the Helm chart rendered as `helm install conea
//! ./deploy/helm/conea -n production` renders it (`helm.rs`) gives the names, labels, probes
//! and resources the operations guide's commands expect, and every `kubectl` line of
//! docs/operations.md finds its object; the Dockerfile and compose file too.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helm;

use serde_json::{json, Value};
use std::path::{Path, PathBuf};

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

fn yaml(text: &str) -> Value {
    yaml_serde::from_str(text).unwrap_or_else(|e| panic!("not YAML ({e}):\n{text}"))
}

fn chart_dir() -> PathBuf {
    deploy().join("helm/conea")
}

fn values() -> Value {
    yaml(&std::fs::read_to_string(chart_dir().join("values.yaml")).unwrap())
}

/// The secrets the chart requires when no existing Secret is named.
fn install_values() -> Value {
    json!({"secrets": {
        "DATABASE_URL": "postgres://conea@db/conea",
        "JWT_SECRET": "0123456789abcdef0123456789abcdef",
        "CONEA_SECRET_KEY": "k"
    }})
}

/// `helm install conea ./deploy/helm/conea -n production` with `overrides`: the objects.
fn install(overrides: &Value) -> Result<Vec<Value>, String> {
    let chart = helm::Chart::load(&chart_dir())?;
    let chart_yaml = yaml(&std::fs::read_to_string(chart_dir().join("Chart.yaml")).unwrap());
    assert_eq!(chart_yaml["apiVersion"], "v2");
    let mut v = values();
    helm::merge(&mut v, overrides);
    let context = helm::context(&chart_yaml, v, "conea", "production");
    let mut objects = Vec::new();
    for (name, text) in chart.render(&context)? {
        for doc in text.split("\n---") {
            if doc.trim().is_empty() {
                continue;
            }
            let object: Value = yaml_serde::from_str(doc)
                .map_err(|e| format!("{name} does not render to YAML ({e}):\n{doc}"))?;
            if !object.is_null() {
                objects.push(object);
            }
        }
    }
    Ok(objects)
}

fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> Option<&'a Value> {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
}

fn object<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    find(objects, kind, name).unwrap_or_else(|| {
        let have: Vec<String> = objects
            .iter()
            .map(|o| format!("{} {}", o["kind"], o["metadata"]["name"]))
            .collect();
        panic!("no {kind} {name}; the chart creates {have:?}")
    })
}

/// Whether `labels` has every pair of `selector`.
fn selects(selector: &Value, labels: &Value) -> bool {
    selector
        .as_object()
        .is_some_and(|s| !s.is_empty() && s.iter().all(|(k, v)| &labels[k] == v))
}

fn pod_labels(o: &Value) -> &Value {
    &o["spec"]["template"]["metadata"]["labels"]
}

#[test]
fn every_values_path_a_template_uses_exists_in_values_yaml() {
    fn paths(values: &Value, prefix: &str, out: &mut Vec<String>) {
        if let Value::Object(m) = values {
            for (k, v) in m {
                let p = format!("{prefix}.{k}");
                out.push(p.clone());
                paths(v, &p, out);
            }
        }
    }
    let mut known = Vec::new();
    paths(&values(), ".Values", &mut known);
    for entry in std::fs::read_dir(chart_dir().join("templates")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for used in text.split(".Values.").skip(1) {
            let name: String = used
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '.' || *c == '_')
                .collect();
            let full = format!(".Values.{}", name.trim_end_matches('.'));
            assert!(
                known.contains(&full),
                "{}: {full} is not in values.yaml",
                path.display()
            );
        }
    }
}

#[test]
fn helm_install_conea_creates_the_names_and_labels_the_guide_uses() {
    let objects = install(&install_values()).unwrap();
    let mut kinds: Vec<&str> = objects
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        vec![
            "ConfigMap",
            "Deployment",
            "Deployment",
            "HorizontalPodAutoscaler",
            "PodDisruptionBudget",
            "Role",
            "RoleBinding",
            "Secret",
            "Service",
            "ServiceAccount"
        ],
        "the default install (no Ingress, no Prometheus Operator objects)"
    );
    for o in &objects {
        assert_eq!(
            o["metadata"]["labels"]["app"], "conea",
            "{} {} carries app: conea",
            o["kind"], o["metadata"]["name"]
        );
        assert_eq!(
            o["metadata"]["labels"]["app.kubernetes.io/instance"],
            "conea"
        );
    }
    let api = object(&objects, "Deployment", "conea-api");
    let worker = object(&objects, "Deployment", "conea-worker");
    assert_eq!(pod_labels(api)["app"], "conea-api");
    assert_eq!(pod_labels(worker)["app"], "conea-worker");
    for d in [api, worker] {
        assert!(selects(
            &d["spec"]["selector"]["matchLabels"],
            pod_labels(d)
        ));
        let c = &d["spec"]["template"]["spec"]["containers"][0];
        let from: Vec<&Value> = c["envFrom"].as_array().unwrap().iter().collect();
        assert_eq!(from[0]["configMapRef"]["name"], "conea-config");
        assert_eq!(from[1]["secretRef"]["name"], "conea-secrets");
        assert_eq!(d["spec"]["template"]["spec"]["serviceAccountName"], "conea");
    }
    assert!(
        !selects(&api["spec"]["selector"]["matchLabels"], pod_labels(worker)),
        "the API Deployment does not adopt worker pods"
    );
    let c = &api["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/livez");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(c["resources"], values()["api"]["resources"]);
    assert_eq!(
        c["resources"]["requests"]["cpu"], "500m",
        "the guide's requests"
    );
    assert_eq!(
        c["resources"]["limits"]["memory"], "2Gi",
        "the guide's limits"
    );
    let init = &api["spec"]["template"]["spec"]["initContainers"][0];
    assert_eq!(init["args"], json!(["migrate"]));
    assert_eq!(
        worker["spec"]["template"]["spec"]["containers"][0]["args"],
        json!(["worker", "--concurrency", "16"])
    );
    let service = object(&objects, "Service", "conea-api");
    assert!(selects(&service["spec"]["selector"], pod_labels(api)));
    assert!(!selects(&service["spec"]["selector"], pod_labels(worker)));
    let pdb = object(&objects, "PodDisruptionBudget", "conea-api");
    assert!(selects(
        &pdb["spec"]["selector"]["matchLabels"],
        pod_labels(api)
    ));
    let hpa = object(&objects, "HorizontalPodAutoscaler", "conea-api");
    assert_eq!(hpa["spec"]["scaleTargetRef"]["name"], "conea-api");
    let config = object(&objects, "ConfigMap", "conea-config");
    assert_eq!(config["data"]["RATE_LIMIT_PER_MINUTE"], "100");
    let secret = object(&objects, "Secret", "conea-secrets");
    assert_eq!(
        secret["stringData"]["DATABASE_URL"],
        "postgres://conea@db/conea"
    );
    let binding = object(&objects, "RoleBinding", "conea-diagnose");
    assert_eq!(binding["subjects"][0]["name"], "conea");
    assert_eq!(binding["subjects"][0]["namespace"], "production");
    let role = object(&objects, "Role", "conea-diagnose");
    for rule in role["rules"].as_array().unwrap() {
        for verb in rule["verbs"].as_array().unwrap() {
            assert!(
                ["get", "list", "watch"].contains(&verb.as_str().unwrap()),
                "read-only access: {verb}"
            );
        }
    }
}

#[test]
fn a_missing_required_secret_fails_the_install_naming_it() {
    let err = install(&json!({})).unwrap_err();
    assert!(err.contains("secrets.DATABASE_URL is required"), "{err}");
    let existing = install(&json!({"secrets": {"existingSecret": "prod-conea"}})).unwrap();
    assert!(existing.iter().all(|o| o["kind"] != "Secret"));
    let api = object(&existing, "Deployment", "conea-api");
    assert_eq!(
        api["spec"]["template"]["spec"]["containers"][0]["envFrom"][1]["secretRef"]["name"],
        "prod-conea"
    );
}

#[test]
fn image_pull_secrets_ingress_tls_and_monitoring_values_reach_the_objects() {
    let mut v = install_values();
    helm::merge(
        &mut v,
        &json!({
            "imagePullSecrets": [{"name": "regcred"}],
            "ingress": {"enabled": true, "host": "api.shop.example",
                        "tls": [{"secretName": "conea-tls", "hosts": ["api.shop.example"]}]},
            "metrics": {"serviceMonitor": {"enabled": true, "labels": {"release": "prom"}},
                        "prometheusRule": {"enabled": true}}
        }),
    );
    let objects = install(&v).unwrap();
    for name in ["conea-api", "conea-worker"] {
        let d = object(&objects, "Deployment", name);
        assert_eq!(
            d["spec"]["template"]["spec"]["imagePullSecrets"],
            json!([{"name": "regcred"}]),
            "{name}"
        );
    }
    let sa = object(&objects, "ServiceAccount", "conea");
    assert_eq!(sa["imagePullSecrets"], json!([{"name": "regcred"}]));
    let ingress = object(&objects, "Ingress", "conea");
    assert_eq!(
        ingress["spec"]["tls"],
        json!([{"secretName": "conea-tls", "hosts": ["api.shop.example"]}])
    );
    assert_eq!(ingress["spec"]["rules"][0]["host"], "api.shop.example");
    assert_eq!(
        ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"],
        "conea-api"
    );
    assert_eq!(
        ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-read-timeout"],
        "600"
    );
    let api = object(&objects, "Deployment", "conea-api");
    let monitor = object(&objects, "ServiceMonitor", "conea-api");
    assert_eq!(monitor["metadata"]["labels"]["release"], "prom");
    assert_eq!(monitor["spec"]["endpoints"][0]["path"], "/metrics");
    let service = object(&objects, "Service", "conea-api");
    assert!(
        selects(
            &monitor["spec"]["selector"]["matchLabels"],
            &service["metadata"]["labels"]
        ) || selects(&monitor["spec"]["selector"]["matchLabels"], pod_labels(api))
    );
    let rule = object(&objects, "PrometheusRule", "conea");
    let alerts: Vec<&str> = rule["spec"]["groups"][0]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["alert"].as_str().unwrap())
        .collect();
    assert_eq!(alerts.len(), 8, "the guide's eight symptoms: {alerts:?}");
}

/// The object a `kubectl` argument names, if the chart creates it.
fn kubectl_target(objects: &[Value], line: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let words: Vec<&str> = line.split_whitespace().collect();
    for (i, w) in words.iter().enumerate() {
        if let Some(app) = w.strip_prefix("app=") {
            let hit = objects
                .iter()
                .any(|o| o["metadata"]["labels"]["app"] == app || pod_labels(o)["app"] == app);
            if !hit {
                problems.push(format!("nothing carries app={app}"));
            }
        }
        for (prefix, kind) in [("deployment/", "Deployment"), ("deploy/", "Deployment")] {
            if let Some(name) = w.strip_prefix(prefix) {
                if find(objects, kind, name).is_none() {
                    problems.push(format!("no Deployment {name}"));
                }
            }
        }
        if ["configmap", "secret"].contains(w) && i > 0 && words[i - 1] == "get" {
            if let Some(name) = words.get(i + 1).filter(|n| !n.starts_with('-')) {
                let kind = if *w == "configmap" {
                    "ConfigMap"
                } else {
                    "Secret"
                };
                if find(objects, kind, name).is_none() {
                    problems.push(format!("no {kind} {name}"));
                }
            }
        }
    }
    problems
}

#[test]
fn every_kubectl_line_of_the_runbook_finds_what_it_names() {
    let objects = install(&install_values()).unwrap();
    let runbook = std::fs::read_to_string(deploy().join("../docs/operations.md")).unwrap();
    let text = runbook.replace("\n", " ");
    let lines: Vec<&str> = runbook.lines().filter(|l| l.contains("kubectl ")).collect();
    assert!(lines.len() >= 8, "the runbook's Kubernetes commands");
    let mut problems = Vec::new();
    for line in &lines {
        for p in kubectl_target(&objects, line) {
            problems.push(format!("{p}: {line}"));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
    assert!(text.contains("helm install conea ./deploy/helm/conea -n production"));
    // The check itself: a name the chart does not create is caught.
    assert_eq!(
        kubectl_target(
            &objects,
            "kubectl get configmap conea-settings -n production"
        ),
        vec!["no ConfigMap conea-settings"]
    );
    assert_eq!(
        kubectl_target(&objects, "kubectl get pods -l app=conea-web"),
        vec!["nothing carries app=conea-web"]
    );
}

#[test]
fn dockerfile_is_multi_stage_non_root_with_a_livez_healthcheck() {
    let d = std::fs::read_to_string(deploy().join("Dockerfile")).unwrap();
    assert_eq!(
        d.lines().filter(|l| l.starts_with("FROM ")).count(),
        2,
        "build and runtime stages"
    );
    assert!(d
        .lines()
        .any(|l| l.starts_with("USER ") && !l.contains("root")));
    assert!(d.contains("HEALTHCHECK") && d.contains("/livez"));
}

#[test]
fn compose_runs_conea_worker_postgres_and_redis_with_the_required_settings() {
    let c = yaml(&std::fs::read_to_string(deploy().join("docker-compose.yml")).unwrap());
    for s in ["conea", "worker", "postgres", "redis"] {
        assert!(c["services"][s].is_object(), "service {s}");
    }
    let env = &c["services"]["conea"]["environment"];
    for v in [
        "DATABASE_URL",
        "REDIS_URL",
        "JWT_SECRET",
        "CONEA_SECRET_KEY",
    ] {
        assert!(env[v].is_string(), "{v}");
    }
    assert!(
        env["JWT_SECRET"].as_str().unwrap().len() >= 32,
        "a secret the server accepts"
    );
    assert_eq!(c["services"]["worker"]["command"][0], "worker");
}
