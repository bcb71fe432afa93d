//! Secrets generated once for the embedded default and kept in the data dir (mode 0600).

use super::Problem;
use rand::rngs::OsRng;
use rand::RngCore;
use std::path::Path;

pub const MIN_SECRET_LEN: usize = 32;

pub fn read_or_create(dir: &Path, file: &str, setting: &'static str) -> Result<String, Problem> {
    let path = dir.join(file);
    let fail = |e: std::io::Error, what: &str| {
        Problem {
        setting,
        message: format!(
            "is not set and the generated one cannot be {what} at {}: {e}. Set {setting} or fix CONEA_DATA_DIR",
            path.display()
        ),
    }
    };
    match std::fs::read_to_string(&path) {
        Ok(text) if text.trim().len() >= MIN_SECRET_LEN => return Ok(text.trim().to_owned()),
        Ok(_) => {
            return Err(Problem {
                setting,
                message: format!(
                "the generated secret at {} is too short or empty; delete it to generate a new one",
                path.display()
            ),
            })
        }
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(fail(e, "read")),
        Err(_) => {}
    }
    std::fs::create_dir_all(dir).map_err(|e| fail(e, "created"))?;
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    write_private(&path, &secret).map_err(|e| fail(e, "written"))?;
    Ok(secret)
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_is_created_once_private_and_then_reused() {
        let dir = std::env::temp_dir().join(format!("conea-secret-{}", uuid::Uuid::now_v7()));
        let a = read_or_create(&dir, "jwt_secret", "JWT_SECRET").expect("create");
        let b = read_or_create(&dir, "jwt_secret", "JWT_SECRET").expect("reuse");
        assert_eq!(a, b);
        assert_eq!(a.len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join("jwt_secret"))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}
