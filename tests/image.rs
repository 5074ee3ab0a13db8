//! `make image` without a registry: scripts/oci-image turns the operator binary into an OCI image archive. These tests
//! build one from this test build's binary and read it back the way a runtime would: a valid OCI image layout (every
//! digest and size checked, the config's diff_id against the uncompressed layer), the same user, entrypoint, command
//! and binary path as the Dockerfile's final stage, the files the binary needs (its shared libraries, the CA bundle,
//! an empty world-writable /tmp), the binary actually starting from the layer alone under the image's user, and the
//! same bytes from the same inputs.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use sha2::{Digest, Sha256};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn build_image(binary: &Path, out: &Path, extra: &[&str]) {
    run(Command::new(repo().join("scripts/oci-image"))
        .arg("--binary")
        .arg(binary)
        .arg("--out")
        .arg(out)
        .args(extra));
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The blob a descriptor names, checked against the descriptor's digest and size.
fn blob(layout: &Path, descriptor: &Value) -> Vec<u8> {
    let digest = descriptor["digest"].as_str().expect("descriptor digest");
    let bytes = fs::read(layout.join("blobs/sha256").join(digest.trim_start_matches("sha256:"))).expect("blob exists");
    assert_eq!(sha256(&bytes), digest, "blob content matches its digest");
    assert_eq!(
        descriptor["size"].as_u64(),
        Some(bytes.len() as u64),
        "descriptor size of {digest}"
    );
    bytes
}

/// USER, ENTRYPOINT, CMD and the COPY destination of the Dockerfile's final stage, read independently of the tool.
fn dockerfile_final_stage() -> BTreeMap<&'static str, String> {
    let text = fs::read_to_string(repo().join("Dockerfile")).unwrap();
    let last = text.rsplit("\nFROM ").next().unwrap();
    let mut found = BTreeMap::new();
    for line in last.lines() {
        for key in ["USER", "ENTRYPOINT", "CMD", "COPY"] {
            if let Some(rest) = line.strip_prefix(&format!("{key} ")) {
                found.insert(key, rest.trim().to_string());
            }
        }
    }
    found
}

struct Unpacked {
    _dir: tempfile::TempDir,
    layout: PathBuf,
    config: Value,
    layer_tar: PathBuf,
}

fn unpack(archive: &Path) -> Unpacked {
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    fs::create_dir(&layout).unwrap();
    run(Command::new("tar").arg("-xf").arg(archive).arg("-C").arg(&layout));

    let oci_layout: Value = serde_json::from_slice(&fs::read(layout.join("oci-layout")).unwrap()).unwrap();
    assert_eq!(oci_layout["imageLayoutVersion"], "1.0.0");
    let index: Value = serde_json::from_slice(&fs::read(layout.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["schemaVersion"], 2);
    assert_eq!(index["mediaType"], "application/vnd.oci.image.index.v1+json");
    let manifests = index["manifests"].as_array().expect("index manifests");
    assert_eq!(manifests.len(), 1, "one image in the archive");
    assert_eq!(manifests[0]["mediaType"], "application/vnd.oci.image.manifest.v1+json");

    let manifest: Value = serde_json::from_slice(&blob(&layout, &manifests[0])).unwrap();
    assert_eq!(manifest["schemaVersion"], 2);
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.oci.image.config.v1+json"
    );
    let config: Value = serde_json::from_slice(&blob(&layout, &manifest["config"])).unwrap();
    let layers = manifest["layers"].as_array().expect("manifest layers");
    assert_eq!(layers.len(), 1, "a single layer FROM scratch");
    assert_eq!(layers[0]["mediaType"], "application/vnd.oci.image.layer.v1.tar+gzip");
    let gz = blob(&layout, &layers[0]);
    let gz_path = dir.path().join("layer.tar.gz");
    fs::write(&gz_path, gz).unwrap();
    let tar = run(Command::new("gzip").arg("-dc").arg(&gz_path));
    assert_eq!(
        config["rootfs"]["diff_ids"],
        serde_json::json!([sha256(&tar)]),
        "the config's diff_id is the uncompressed layer's digest"
    );
    assert_eq!(config["os"], "linux");
    assert_eq!(config["architecture"], "amd64");
    let layer_tar = dir.path().join("layer.tar");
    fs::write(&layer_tar, tar).unwrap();
    Unpacked {
        _dir: dir,
        layout,
        config,
        layer_tar,
    }
}

/// (mode string, owner, path) of every entry of the layer.
fn listing(layer_tar: &Path) -> Vec<(String, String, String)> {
    let out = String::from_utf8(run(Command::new("tar")
        .arg("--numeric-owner")
        .arg("-tvf")
        .arg(layer_tar)))
    .unwrap();
    out.lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (
                f[0].to_string(),
                f[1].to_string(),
                f[5].trim_end_matches('/').to_string(),
            )
        })
        .collect()
}

fn shared_libraries(binary: &Path) -> Vec<String> {
    let out = String::from_utf8(run(Command::new("ldd").arg(binary))).unwrap();
    out.lines()
        .filter_map(|l| {
            let target = match l.split_once("=>") {
                Some((_, t)) => t.split_whitespace().next()?,
                None => l.split_whitespace().next()?,
            };
            target
                .starts_with('/')
                .then(|| target.trim_start_matches('/').to_string())
        })
        .collect()
}

#[test]
fn operator_image_is_an_oci_layout_with_the_dockerfiles_user_entrypoint_and_files() {
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_callback-operator"));
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("operator.oci.tar");
    let name = "docker.io/library/callback-operator:test";
    build_image(&binary, &archive, &["--dockerfile", "Dockerfile", "--name", name]);
    let image = unpack(&archive);

    let index: Value = serde_json::from_slice(&fs::read(image.layout.join("index.json")).unwrap()).unwrap();
    let annotations = &index["manifests"][0]["annotations"];
    assert_eq!(
        annotations["io.containerd.image.name"], name,
        "ctr import names the image after this"
    );
    assert_eq!(annotations["org.opencontainers.image.ref.name"], "test");

    let docker = dockerfile_final_stage();
    let cfg = &image.config["config"];
    assert_eq!(cfg["User"], docker["USER"], "same user as the Dockerfile");
    assert_eq!(cfg["User"], "65532:65532", "numeric, so runAsNonRoot can check it");
    let entrypoint: Value = serde_json::from_str(&docker["ENTRYPOINT"]).unwrap();
    let cmd: Value = serde_json::from_str(&docker["CMD"]).unwrap();
    assert_eq!(cfg["Entrypoint"], entrypoint, "same entrypoint as the Dockerfile");
    assert_eq!(cfg["Cmd"], cmd, "same command as the Dockerfile");
    let env: Vec<&str> = cfg["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        env.contains(&"MIMALLOC_ARENA_EAGER_COMMIT=0"),
        "the Dockerfile's ENV: {env:?}"
    );
    assert_eq!(cfg["ExposedPorts"], serde_json::json!({"8080/tcp": {}}));
    let dest = docker["COPY"]
        .split_whitespace()
        .last()
        .unwrap()
        .trim_start_matches('/')
        .to_string();
    assert_eq!(format!("/{dest}"), entrypoint[0], "the entrypoint is the copied binary");

    let entries = listing(&image.layer_tar);
    let entry = |path: &str| {
        entries
            .iter()
            .find(|(_, _, p)| p == path)
            .unwrap_or_else(|| panic!("{path} in the layer: {entries:?}"))
    };
    assert!(
        entries.iter().all(|(_, owner, _)| owner == "0/0"),
        "every file owned by root: {entries:?}"
    );
    assert_eq!(entry(&dest).0, "-rwxr-xr-x", "the binary is executable");
    assert_eq!(entry("tmp").0, "drwxrwxrwt", "an empty, world-writable /tmp");
    assert!(!entries.iter().any(|(_, _, p)| p.starts_with("tmp/")), "/tmp is empty");
    assert_eq!(
        entry("etc/ssl/certs/ca-certificates.crt").0,
        "-rw-r--r--",
        "the CA bundle"
    );
    let libs = shared_libraries(&binary);
    assert!(libs.iter().any(|l| l.contains("libc.so")), "ldd names libc: {libs:?}");
    for lib in &libs {
        entry(lib);
    }

    // The layer alone is enough to start the binary under the image's user: no library is missing.
    let root = work.path().join("rootfs");
    fs::create_dir(&root).unwrap();
    run(Command::new("tar")
        .arg("-xf")
        .arg(&image.layer_tar)
        .arg("-C")
        .arg(&root));
    let help = String::from_utf8(run(Command::new("chroot")
        .arg("--userspec=65532:65532")
        .arg(&root)
        .arg(format!("/{dest}"))
        .arg("--help")))
    .unwrap();
    assert!(help.contains("run"), "the binary's help lists its run command: {help}");
}

#[test]
fn the_same_inputs_give_the_same_archive() {
    let work = tempfile::tempdir().unwrap();
    let (a, b) = (work.path().join("a.tar"), work.path().join("b.tar"));
    let args = [
        "--dest",
        "/bin/true",
        "--entrypoint",
        "/bin/true",
        "--user",
        "65532:65532",
        "--name",
        "x/true:1",
    ];
    build_image(Path::new("/bin/true"), &a, &args);
    build_image(Path::new("/bin/true"), &b, &args);
    assert_eq!(
        sha256(&fs::read(&a).unwrap()),
        sha256(&fs::read(&b).unwrap()),
        "reproducible archive"
    );
    let image = unpack(&a);
    assert_eq!(image.config["config"]["Entrypoint"], serde_json::json!(["/bin/true"]));
    assert_eq!(image.config["config"]["User"], "65532:65532");
}
