//! The deployment files stay valid: the Helm chart's templates render to well-formed
//! Kubernetes objects (no Helm binary can be installed from this machine's registries, so the
//! templates are rendered structurally: control lines dropped, expressions replaced by
//! placeholders, the result parsed as YAML), every `.Values` path they use exists, the probes
//! and default resources are the operations guide's; the Dockerfile and compose file too.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::path::{Path, PathBuf};

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

fn yaml(text: &str) -> Value {
    yaml_serde::from_str(text).unwrap_or_else(|e| panic!("not YAML ({e}):\n{text}"))
}

/// Structural rendering of a Helm template.
fn render(template: &str) -> String {
    let mut out = Vec::new();
    for line in template.lines() {
        let t = line.trim();
        let whole = t.starts_with("{{") && t.ends_with("}}") && t.matches("{{").count() == 1;
        if whole {
            let inner = t.trim_start_matches("{{").trim_start_matches('-').trim();
            let control = ["if ", "end", "else", "range ", "define ", "with "]
                .iter()
                .any(|k| inner.starts_with(k));
            if !control {
                let indent = line.len() - line.trim_start().len();
                out.push(format!("{}templated_{}: x", " ".repeat(indent), out.len()));
            }
            continue;
        }
        let mut rendered = String::new();
        let mut rest = line;
        while let Some(start) = rest.find("{{") {
            rendered.push_str(&rest[..start]);
            let end = rest[start..]
                .find("}}")
                .map(|e| start + e + 2)
                .expect("closed expression");
            rendered.push('X');
            rest = &rest[end..];
        }
        rendered.push_str(rest);
        out.push(rendered);
    }
    out.join("\n")
}

fn value_paths(values: &Value, prefix: &str, out: &mut Vec<String>) {
    if let Value::Object(m) = values {
        for (k, v) in m {
            let p = format!("{prefix}.{k}");
            out.push(p.clone());
            value_paths(v, &p, out);
        }
    }
}

#[test]
fn helm_templates_render_to_kubernetes_objects_using_only_existing_values() {
    let chart = deploy().join("helm/conea");
    let values = yaml(&std::fs::read_to_string(chart.join("values.yaml")).unwrap());
    let mut known = Vec::new();
    value_paths(&values, ".Values", &mut known);
    assert_eq!(
        yaml(&std::fs::read_to_string(chart.join("Chart.yaml")).unwrap())["apiVersion"],
        "v2"
    );
    let mut kinds = Vec::new();
    for entry in std::fs::read_dir(chart.join("templates")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let opens = text.matches("{{- if").count()
            + text.matches("{{ if").count()
            + text.matches("{{- range").count();
        let ends = text.matches("{{- end").count() + text.matches("{{ end").count();
        assert_eq!(opens, ends, "{}: unbalanced if/range/end", path.display());
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
        let object = yaml(&render(&text));
        assert!(
            object["apiVersion"].is_string(),
            "{}: no apiVersion",
            path.display()
        );
        kinds.push(object["kind"].as_str().unwrap().to_owned());
        if path.ends_with("deployment.yaml") {
            let c = &object["spec"]["template"]["spec"]["containers"][0];
            assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/livez");
            assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
        }
    }
    kinds.sort();
    assert_eq!(
        kinds,
        vec![
            "ConfigMap",
            "Deployment",
            "Deployment",
            "HorizontalPodAutoscaler",
            "Ingress",
            "Job",
            "PodDisruptionBudget",
            "Secret",
            "Service"
        ]
    );
    // The guide's resources.
    assert_eq!(values["api"]["resources"]["requests"]["cpu"], "500m");
    assert_eq!(values["api"]["resources"]["requests"]["memory"], "512Mi");
    assert_eq!(values["api"]["resources"]["limits"]["cpu"], "2000m");
    assert_eq!(values["api"]["resources"]["limits"]["memory"], "2Gi");
    assert_eq!(values["ingress"]["proxyTimeoutSeconds"], 600);
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
