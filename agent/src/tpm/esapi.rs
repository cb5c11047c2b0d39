//! [`Tpm`] over tss-esapi 7.7: a hardware TPM or swtpm reached through a TCTI.
//!
//! At start-up [`EsapiTpm::open`] recreates the EK from the TCG default template (deterministic for
//! the TPM's endorsement seed), then loads the AK persisted in the state directory, or creates and
//! persists one when the directory holds none. Both keys stay loaded for the life of the process
//! (two of the three transient slots a minimal TPM has); every session this module starts is
//! flushed before the call returns.
//!
//! tss-esapi 7.7 lacks TPM2_ReadClock and the workspace forbids `unsafe`, so [`Tpm::clock`] reads
//! TPMS_CLOCK_INFO from a quote over no PCRs (the AK lives in the endorsement hierarchy, so the TPM
//! does not obfuscate the counters).

mod keys;
mod store;

use std::convert::TryFrom;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Instant;

use tss_esapi::abstraction::pcr::PcrData;
use tss_esapi::abstraction::DefaultKey;
use tss_esapi::constants::SessionType;
use tss_esapi::handles::{KeyHandle, PcrHandle, SessionHandle};
use tss_esapi::interface_types::algorithm::HashingAlgorithm;
use tss_esapi::interface_types::session_handles::AuthSession;
use tss_esapi::structures::{
    Data, Digest, DigestValues, EncryptedSecret, IdObject, PcrSelectionList,
    PcrSelectionListBuilder, PcrSlot, SignatureScheme, SymmetricDefinition,
};
use tss_esapi::tcti_ldr::TctiNameConf;
use tss_esapi::traits::Marshall;
use tss_esapi::{Context, Error as TssError, WrapperErrorKind};

use self::keys::{
    create_ak, ek_selection, flush_transient_objects, is_object_memory, load_stored_ak,
    read_ek_certificate, satisfy_ek_policy,
};
use self::store::AkStore;
use super::{KeyAlg, QuoteBlob, Tpm, TpmClock, TpmError, TpmIdentity};

/// Highest PCR index of a PC-client TPM.
const MAX_PCR: u8 = 23;
/// Largest qualifying data (nonce) TPM2_Quote takes: TPM2B_DATA holds a TPMT_HA digest.
const MAX_NONCE: usize = 64;
/// PCRs per TPM2_PCR_Read: a TPML_DIGEST response holds at most eight digests.
const PCRS_PER_READ: usize = 8;

/// How to reach the TPM and which keys to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EsapiConfig {
    /// TCTI configuration, e.g. `device:/dev/tpmrm0` or `swtpm:host=127.0.0.1,port=2321`.
    pub tcti: String,
    /// EK algorithm: the TCG default RSA-2048 or ECC P-256 template.
    pub ek_alg: KeyAlg,
    /// AK algorithm: RSA-2048 RSASSA-SHA256 or ECDSA P-256 SHA-256.
    pub ak_alg: KeyAlg,
    /// Directory holding the persisted AK (`ak.pub`, `ak.priv`, `ak.json`).
    pub state_dir: PathBuf,
}

impl EsapiConfig {
    /// A configuration with RSA EK and AK.
    pub fn new(tcti: impl Into<String>, state_dir: impl Into<PathBuf>) -> Self {
        Self {
            tcti: tcti.into(),
            ek_alg: KeyAlg::Rsa,
            ak_alg: KeyAlg::Rsa,
            state_dir: state_dir.into(),
        }
    }
}

/// The agent's TPM: an ESAPI context with the EK and the AK loaded.
pub struct EsapiTpm {
    ctx: Context,
    ek: KeyHandle,
    ak: KeyHandle,
    identity: TpmIdentity,
}

impl std::fmt::Debug for EsapiTpm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EsapiTpm")
            .field("ak_name", &hex::encode(&self.identity.ak_name))
            .field("ek_certificate", &self.identity.ek_certificate.is_some())
            .finish_non_exhaustive()
    }
}

impl EsapiTpm {
    /// Connects to the TPM, recreates the EK and loads (or creates and persists) the AK.
    ///
    /// A stored AK that does not load, or was made for other algorithms than `config` names, is
    /// a [`TpmError::KeyState`]: an enrolled AK is never replaced silently.
    #[tracing::instrument(skip_all, fields(tcti = %config.tcti))]
    pub fn open(config: EsapiConfig) -> Result<Self, TpmError> {
        match Self::open_once(&config) {
            Err(e) if is_object_memory(&e) => {
                // A direct-access TPM (no resource manager) keeps the objects of a client that
                // died without flushing them. Ours went with the dropped context; the rest are
                // stale, and would make every start fail until the TPM restarts.
                tracing::warn!(error = %e, "TPM out of object memory: flushing stale transient objects");
                flush_transient_objects(&config)?;
                Self::open_once(&config)
            }
            other => other,
        }
    }

    fn open_once(config: &EsapiConfig) -> Result<Self, TpmError> {
        let connect = |source| TpmError::Connect {
            tcti: config.tcti.clone(),
            source,
        };
        let mut ctx = Context::new(TctiNameConf::from_str(&config.tcti).map_err(connect)?)
            .map_err(connect)?;

        let started = Instant::now();
        let ek = tss_esapi::abstraction::ek::create_ek_object_2(
            &mut ctx,
            ek_selection(config.ek_alg),
            DefaultKey,
        )
        .map_err(command("CreatePrimary (EK)"))?;
        tracing::debug!(alg = ?config.ek_alg, elapsed_ms = ms(started), "EK created");
        let ek_certificate = read_ek_certificate(&mut ctx, config.ek_alg)?;

        let store = AkStore::new(config.state_dir.clone());
        let ak = match store.load()? {
            Some(stored) => load_stored_ak(&mut ctx, ek, &store, stored, config)?,
            None => create_ak(&mut ctx, ek, &store, config)?,
        };

        let (ek_public, _, _) = ctx.read_public(ek).map_err(command("ReadPublic (EK)"))?;
        let (ak_public, ak_name, _) = ctx.read_public(ak).map_err(command("ReadPublic (AK)"))?;
        let identity = TpmIdentity {
            ek_public: ek_public
                .marshall()
                .map_err(command("marshal EK TPMT_PUBLIC"))?,
            ek_certificate,
            ak_public: ak_public
                .marshall()
                .map_err(command("marshal AK TPMT_PUBLIC"))?,
            ak_name: ak_name.value().to_vec(),
        };
        tracing::info!(ak_name = %hex::encode(&identity.ak_name), "TPM ready");
        Ok(Self {
            ctx,
            ek,
            ak,
            identity,
        })
    }

    /// Starts a policy session satisfying the EK's policy A (PolicySecret(TPM_RH_ENDORSEMENT)),
    /// runs `f` with it (to authorise a use of the EK), and flushes it whatever `f` returned.
    fn with_ek_policy<T>(
        &mut self,
        f: impl FnOnce(&mut Context, AuthSession) -> Result<T, TpmError>,
    ) -> Result<T, TpmError> {
        let session = self
            .ctx
            .start_auth_session(
                None,
                None,
                None,
                SessionType::Policy,
                SymmetricDefinition::AES_128_CFB,
                HashingAlgorithm::Sha256,
            )
            .map_err(command("StartAuthSession (EK policy)"))?
            .ok_or_else(|| wrong_value("StartAuthSession (EK policy)"))?;
        // The closure's own failure is the inner result; the outer one is the flush.
        self.ctx
            .execute_with_temporary_object(SessionHandle::from(session).into(), |ctx, _| {
                Ok(satisfy_ek_policy(ctx, session).and_then(|()| f(ctx, session)))
            })
            .map_err(command("FlushContext (EK policy session)"))?
    }
}

impl Tpm for EsapiTpm {
    fn identity(&mut self) -> Result<TpmIdentity, TpmError> {
        Ok(self.identity.clone())
    }

    fn read_pcrs(&mut self, pcrs: &[u8]) -> Result<Vec<[u8; 32]>, TpmError> {
        let mut unique: Vec<u8> = pcrs
            .iter()
            .copied()
            .map(check_pcr)
            .collect::<Result<_, _>>()?;
        unique.sort_unstable();
        unique.dedup();
        let mut values = [None; MAX_PCR as usize + 1];
        for chunk in unique.chunks(PCRS_PER_READ) {
            let (_, read, digests) = self
                .ctx
                .execute_without_session(|ctx| ctx.pcr_read(sha256_selection(chunk)?))
                .map_err(command("PCR_Read"))?;
            let data = PcrData::create(&read, &digests).map_err(command("PCR_Read"))?;
            let bank = data.pcr_bank(HashingAlgorithm::Sha256);
            for &pcr in chunk {
                let digest = bank
                    .and_then(|bank| bank.get_digest(pcr_slot(pcr).ok()?))
                    .and_then(|digest| <[u8; 32]>::try_from(digest.value()).ok())
                    // An unallocated SHA-256 bank reads back as an empty selection.
                    .ok_or_else(|| wrong_value("PCR_Read (SHA-256 bank)"))?;
                if let Some(slot) = values.get_mut(usize::from(pcr)) {
                    *slot = Some(digest);
                }
            }
        }
        pcrs.iter()
            .map(|&pcr| {
                values
                    .get(usize::from(pcr))
                    .copied()
                    .flatten()
                    .ok_or_else(|| wrong_value("PCR_Read"))
            })
            .collect()
    }

    fn extend(&mut self, pcr: u8, digest: &[u8; 32]) -> Result<(), TpmError> {
        let handle = PcrHandle::try_from(u32::from(check_pcr(pcr)?))
            .map_err(|e| TpmError::InvalidRequest(format!("PCR {pcr}: {e}")))?;
        let mut values = DigestValues::new();
        values.set(
            HashingAlgorithm::Sha256,
            Digest::try_from(digest.to_vec()).map_err(command("PCR_Extend"))?,
        );
        self.ctx
            .execute_with_session(Some(AuthSession::Password), |ctx| {
                ctx.pcr_extend(handle, values)
            })
            .map_err(command("PCR_Extend"))
    }

    fn quote(&mut self, nonce: &[u8], pcrs: &[u8]) -> Result<QuoteBlob, TpmError> {
        if nonce.len() > MAX_NONCE {
            return Err(TpmError::InvalidRequest(format!(
                "nonce of {} bytes exceeds the TPM's {MAX_NONCE}",
                nonce.len()
            )));
        }
        let pcrs: Vec<u8> = pcrs
            .iter()
            .copied()
            .map(check_pcr)
            .collect::<Result<_, _>>()?;
        let selection = if pcrs.is_empty() {
            PcrSelectionList::default()
        } else {
            sha256_selection(&pcrs).map_err(command("Quote (PCR selection)"))?
        };
        let data = Data::try_from(nonce.to_vec()).map_err(command("Quote (nonce)"))?;
        let ak = self.ak;
        let (attest, signature) = self
            .ctx
            .execute_with_session(Some(AuthSession::Password), |ctx| {
                // Null: the AK's own scheme (RSASSA or ECDSA, SHA-256) applies.
                ctx.quote(ak, data, SignatureScheme::Null, selection)
            })
            .map_err(command("Quote"))?;
        Ok(QuoteBlob {
            attest: attest
                .marshall()
                .map_err(command("Quote (marshal TPMS_ATTEST)"))?,
            signature: signature
                .marshall()
                .map_err(command("Quote (marshal TPMT_SIGNATURE)"))?,
        })
    }

    fn activate_credential(
        &mut self,
        credential_blob: &[u8],
        encrypted_secret: &[u8],
    ) -> Result<Vec<u8>, TpmError> {
        let blob = IdObject::try_from(credential_blob.to_vec())
            .map_err(|e| TpmError::InvalidRequest(format!("credential blob: {e}")))?;
        let secret = EncryptedSecret::try_from(encrypted_secret.to_vec())
            .map_err(|e| TpmError::InvalidRequest(format!("encrypted secret: {e}")))?;
        let (ak, ek) = (self.ak, self.ek);
        let credential = self.with_ek_policy(|ctx, ek_session| {
            ctx.execute_with_sessions(
                (Some(AuthSession::Password), Some(ek_session), None),
                |ctx| ctx.activate_credential(ak, ek, blob, secret),
            )
            .map_err(command("ActivateCredential"))
        })?;
        Ok(credential.value().to_vec())
    }

    fn clock(&mut self) -> Result<TpmClock, TpmError> {
        let ak = self.ak;
        let (attest, _) = self
            .ctx
            .execute_with_session(Some(AuthSession::Password), |ctx| {
                ctx.quote(
                    ak,
                    Data::default(),
                    SignatureScheme::Null,
                    PcrSelectionList::default(),
                )
            })
            .map_err(command("Quote (clock)"))?;
        let info = attest.clock_info();
        Ok(TpmClock {
            clock: info.clock(),
            reset_count: info.reset_count(),
            restart_count: info.restart_count(),
            safe: info.safe(),
        })
    }
}

fn check_pcr(pcr: u8) -> Result<u8, TpmError> {
    if pcr > MAX_PCR {
        return Err(TpmError::InvalidRequest(format!(
            "PCR index {pcr} is out of range 0..={MAX_PCR}"
        )));
    }
    Ok(pcr)
}

fn pcr_slot(pcr: u8) -> Result<PcrSlot, TssError> {
    let bit = 1u32
        .checked_shl(u32::from(pcr))
        .ok_or(TssError::WrapperError(WrapperErrorKind::InvalidParam))?;
    PcrSlot::try_from(bit)
}

fn sha256_selection(pcrs: &[u8]) -> Result<PcrSelectionList, TssError> {
    let slots: Vec<PcrSlot> = pcrs
        .iter()
        .map(|&pcr| pcr_slot(pcr))
        .collect::<Result<_, _>>()?;
    PcrSelectionListBuilder::new()
        .with_selection(HashingAlgorithm::Sha256, &slots)
        .build()
}

/// Maps a tss-esapi error to [`TpmError::Command`] naming the command.
fn command(command: &'static str) -> impl Fn(TssError) -> TpmError {
    move |source| TpmError::Command { command, source }
}

/// A response tss-esapi accepted but that lacks what the command must return.
fn wrong_value(command: &'static str) -> TpmError {
    TpmError::Command {
        command,
        source: TssError::WrapperError(WrapperErrorKind::WrongValueFromTpm),
    }
}

fn ms(since: Instant) -> u128 {
    since.elapsed().as_millis()
}
