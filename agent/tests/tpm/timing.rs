//! Timings on swtpm, printed, not asserted: `cargo test -p palisade-agent --test tests --
//! --ignored --nocapture timing`.

use std::str::FromStr;
use std::time::{Duration, Instant};

use palisade_agent::tpm::esapi::EsapiTpm;
use palisade_agent::tpm::{KeyAlg, Tpm};
use tss_esapi::abstraction::{ak, ek, AsymmetricAlgorithmSelection, DefaultKey};
use tss_esapi::interface_types::algorithm::{HashingAlgorithm, SignatureSchemeAlgorithm};
use tss_esapi::interface_types::ecc::EccCurve;
use tss_esapi::interface_types::key_bits::RsaKeyBits;
use tss_esapi::tcti_ldr::TctiNameConf;
use tss_esapi::Context;

use super::{config, ALGS};
use crate::support::{tempdir, Swtpm};

const ROUNDS: u32 = 20;

fn report(what: &str, samples: &[Duration]) {
    let total: Duration = samples.iter().sum();
    let mean = total / u32::try_from(samples.len()).expect("few samples");
    let max = samples.iter().max().copied().unwrap_or_default();
    eprintln!(
        "{what:<40} mean {:>8.2} ms  max {:>8.2} ms  (n={})",
        ms(mean),
        ms(max),
        samples.len()
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn time<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed())
}

#[test]
#[ignore = "timing report; run explicitly"]
fn timing_report() {
    for alg in ALGS {
        let swtpm = Swtpm::start();
        let (ek_sel, ak_sel, scheme) = match alg {
            KeyAlg::Rsa => (
                AsymmetricAlgorithmSelection::Rsa(RsaKeyBits::Rsa2048),
                AsymmetricAlgorithmSelection::Rsa(RsaKeyBits::Rsa2048),
                SignatureSchemeAlgorithm::RsaSsa,
            ),
            KeyAlg::Ecc => (
                AsymmetricAlgorithmSelection::Ecc(EccCurve::NistP256),
                AsymmetricAlgorithmSelection::Ecc(EccCurve::NistP256),
                SignatureSchemeAlgorithm::EcDsa,
            ),
        };

        // The building blocks, straight through tss-esapi.
        {
            let mut ctx = Context::new(TctiNameConf::from_str(&swtpm.tcti()).expect("tcti"))
                .expect("context");
            let (mut ek_create, mut ak_create, mut ak_load) = (vec![], vec![], vec![]);
            for _ in 0..ROUNDS / 4 {
                let (ek, t) = time(|| ek::create_ek_object_2(&mut ctx, ek_sel, DefaultKey));
                let ek = ek.expect("EK");
                ek_create.push(t);
                let (created, t) = time(|| {
                    ak::create_ak_2(
                        &mut ctx,
                        ek,
                        HashingAlgorithm::Sha256,
                        ak_sel,
                        scheme,
                        None,
                        DefaultKey,
                    )
                });
                let created = created.expect("AK create");
                ak_create.push(t);
                let (loaded, t) = time(|| {
                    ak::load_ak(&mut ctx, ek, None, created.out_private, created.out_public)
                });
                ak_load.push(t);
                ctx.flush_context(loaded.expect("AK load").into())
                    .expect("flush AK");
                ctx.flush_context(ek.into()).expect("flush EK");
            }
            report(&format!("{alg:?} EK create (CreatePrimary)"), &ek_create);
            report(&format!("{alg:?} AK create"), &ak_create);
            report(&format!("{alg:?} AK load"), &ak_load);
        }

        // The agent's own paths.
        let dir = tempdir();
        let cfg = || config(&swtpm, dir.path(), alg, alg);
        let (tpm, first_open) = time(|| EsapiTpm::open(cfg()).expect("open"));
        drop(tpm);
        report(
            &format!("{alg:?} open, first start (AK created)"),
            &[first_open],
        );
        let mut reopen = vec![];
        for _ in 0..ROUNDS / 4 {
            let (tpm, t) = time(|| EsapiTpm::open(cfg()).expect("reopen"));
            reopen.push(t);
            drop(tpm);
        }
        report(&format!("{alg:?} open, restart (AK loaded)"), &reopen);

        let mut tpm = EsapiTpm::open(cfg()).expect("open");
        let pcrs: Vec<u8> = (0..24).collect();
        let (mut quote, mut quote24, mut extend, mut read, mut clock) =
            (vec![], vec![], vec![], vec![], vec![]);
        for i in 0..ROUNDS * 5 {
            let nonce = i.to_be_bytes();
            quote.push(time(|| tpm.quote(&nonce, &[0, 10, 15]).expect("quote")).1);
            quote24.push(time(|| tpm.quote(&nonce, &pcrs).expect("quote")).1);
            extend.push(time(|| tpm.extend(15, &[7; 32]).expect("extend")).1);
            read.push(time(|| tpm.read_pcrs(&pcrs).expect("read")).1);
            clock.push(time(|| tpm.clock().expect("clock")).1);
        }
        report(&format!("{alg:?} quote (3 PCRs)"), &quote);
        report(&format!("{alg:?} quote (24 PCRs)"), &quote24);
        report(&format!("{alg:?} extend"), &extend);
        report(&format!("{alg:?} read_pcrs (24 PCRs, 3 reads)"), &read);
        report(&format!("{alg:?} clock (quote over no PCRs)"), &clock);
    }
}
