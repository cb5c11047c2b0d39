//! The keys: the EK recreated from its TCG template (and its certificate from NV), the AK created
//! under it or loaded from the state directory, the EK's policy session, and recovery from objects
//! a dead client left loaded.

use std::convert::TryFrom;
use std::str::FromStr;
use std::time::Instant;

use tss_esapi::abstraction::{ak, ek, AsymmetricAlgorithmSelection, DefaultKey};
use tss_esapi::attributes::SessionAttributesBuilder;
use tss_esapi::constants::response_code::{Tss2ResponseCode, Tss2ResponseCodeKind};
use tss_esapi::constants::CapabilityType;
use tss_esapi::handles::{AuthHandle, KeyHandle, TpmHandle};
use tss_esapi::interface_types::algorithm::{HashingAlgorithm, SignatureSchemeAlgorithm};
use tss_esapi::interface_types::ecc::EccCurve;
use tss_esapi::interface_types::key_bits::RsaKeyBits;
use tss_esapi::interface_types::session_handles::{AuthSession, PolicySession};
use tss_esapi::structures::{CapabilityData, Private, Public};
use tss_esapi::tcti_ldr::TctiNameConf;
use tss_esapi::traits::{Marshall, UnMarshall};
use tss_esapi::{Context, Error as TssError};

use super::store::{AkMeta, AkStore, StoredAk, AK_META, AK_PRIV, AK_PUB};
use super::{command, ms, wrong_value, EsapiConfig};
use crate::tpm::{KeyAlg, TpmError};

/// TCG EK Credential Profile 2.3, 2.2.1.4: NV indices of the RSA-2048 and ECC P-256 EK certificates.
const RSA_EK_CERT_NV_INDEX: u32 = 0x01c0_0002;
const ECC_EK_CERT_NV_INDEX: u32 = 0x01c0_000a;
/// First transient object handle (TPM_HT_TRANSIENT << 24).
const TRANSIENT_FIRST: u32 = 0x8000_0000;

/// Creates an AK under the EK, loads it and persists it.
#[tracing::instrument(skip_all, fields(ak_alg = ?config.ak_alg))]
pub(super) fn create_ak(
    ctx: &mut Context,
    ek: KeyHandle,
    store: &AkStore,
    config: &EsapiConfig,
) -> Result<KeyHandle, TpmError> {
    let started = Instant::now();
    let (selection, scheme) = match config.ak_alg {
        KeyAlg::Rsa => (
            AsymmetricAlgorithmSelection::Rsa(RsaKeyBits::Rsa2048),
            SignatureSchemeAlgorithm::RsaSsa,
        ),
        KeyAlg::Ecc => (
            AsymmetricAlgorithmSelection::Ecc(EccCurve::NistP256),
            SignatureSchemeAlgorithm::EcDsa,
        ),
    };
    let created = ak::create_ak_2(
        ctx,
        ek,
        HashingAlgorithm::Sha256,
        selection,
        scheme,
        None,
        DefaultKey,
    )
    .map_err(command("Create (AK)"))?;
    let created_ms = ms(started);
    let ak = ak::load_ak(
        ctx,
        ek,
        None,
        created.out_private.clone(),
        created.out_public.clone(),
    )
    .map_err(command("Load (new AK)"))?;
    let (_, name, _) = ctx.read_public(ak).map_err(command("ReadPublic (AK)"))?;
    let public = created
        .out_public
        .marshall()
        .map_err(command("marshal AK TPMT_PUBLIC"))?;
    store.save(
        &public,
        created.out_private.value(),
        &AkMeta::new(config.ek_alg, config.ak_alg, name.value()),
    )?;
    tracing::info!(
        create_ms = created_ms,
        total_ms = ms(started),
        ak_name = %hex::encode(name.value()),
        "created and persisted a new attestation key"
    );
    Ok(ak)
}

/// Loads the persisted AK after checking it was made for the configured algorithms.
#[tracing::instrument(skip_all)]
pub(super) fn load_stored_ak(
    ctx: &mut Context,
    ek: KeyHandle,
    store: &AkStore,
    stored: StoredAk,
    config: &EsapiConfig,
) -> Result<KeyHandle, TpmError> {
    let started = Instant::now();
    let meta = &stored.meta;
    if (meta.ek_alg, meta.ak_alg) != (config.ek_alg, config.ak_alg) {
        return Err(TpmError::KeyState {
            path: store.path(AK_META),
            reason: format!(
                "the stored AK is {:?} under a {:?} EK, but the configuration asks for {:?} under \
                 {:?}; refusing to replace an enrolled AK (fix the configuration, or move the \
                 state directory aside to re-enrol)",
                meta.ak_alg, meta.ek_alg, config.ak_alg, config.ek_alg
            ),
        });
    }
    let public = Public::unmarshall(&stored.public).map_err(|e| TpmError::KeyState {
        path: store.path(AK_PUB),
        reason: format!("not a TPMT_PUBLIC: {e}"),
    })?;
    let private = Private::try_from(stored.private).map_err(|e| TpmError::KeyState {
        path: store.path(AK_PRIV),
        reason: format!("not a TPM2B_PRIVATE buffer: {e}"),
    })?;
    let ak = ak::load_ak(ctx, ek, None, private, public).map_err(|e| {
        if rejects_key_blob(&e) {
            TpmError::KeyState {
                path: store.path(AK_PRIV),
                reason: format!(
                    "the TPM refuses to load the stored AK ({e}): corrupted, or made by another \
                     TPM or EK; refusing to replace an enrolled AK (move the state directory \
                     aside to re-enrol)"
                ),
            }
        } else {
            command("Load (AK)")(e)
        }
    })?;
    let (_, name, _) = ctx.read_public(ak).map_err(command("ReadPublic (AK)"))?;
    if hex::encode(name.value()) != meta.ak_name {
        return Err(TpmError::KeyState {
            path: store.path(AK_META),
            reason: format!(
                "the stored AK's name is {} but ak.json records {}",
                hex::encode(name.value()),
                meta.ak_name
            ),
        });
    }
    tracing::debug!(
        elapsed_ms = ms(started),
        "loaded the persisted attestation key"
    );
    Ok(ak)
}

/// Reads the EK certificate from its TCG NV index: `None` when the index is not defined.
pub(super) fn read_ek_certificate(
    ctx: &mut Context,
    alg: KeyAlg,
) -> Result<Option<Vec<u8>>, TpmError> {
    let index = match alg {
        KeyAlg::Rsa => RSA_EK_CERT_NV_INDEX,
        KeyAlg::Ecc => ECC_EK_CERT_NV_INDEX,
    };
    let (data, _) = ctx
        .execute_without_session(|ctx| ctx.get_capability(CapabilityType::Handles, index, 1))
        .map_err(command("GetCapability (NV indices)"))?;
    let defined = match data {
        CapabilityData::Handles(handles) => {
            handles.iter().any(|&handle| u32::from(handle) == index)
        }
        _ => return Err(wrong_value("GetCapability (NV indices)")),
    };
    if !defined {
        tracing::debug!(
            nv_index = format_args!("{index:#x}"),
            "no EK certificate in NV"
        );
        return Ok(None);
    }
    ek::retrieve_ek_pubcert(ctx, ek_selection(alg))
        .map(Some)
        .map_err(command("NV_Read (EK certificate)"))
}

/// Flushes every transient object the TPM reports (through a context of its own).
pub(super) fn flush_transient_objects(config: &EsapiConfig) -> Result<(), TpmError> {
    let connect = |source| TpmError::Connect {
        tcti: config.tcti.clone(),
        source,
    };
    let mut ctx =
        Context::new(TctiNameConf::from_str(&config.tcti).map_err(connect)?).map_err(connect)?;
    let (data, _) = ctx
        .execute_without_session(|ctx| {
            ctx.get_capability(CapabilityType::Handles, TRANSIENT_FIRST, 64)
        })
        .map_err(command("GetCapability (transient handles)"))?;
    let CapabilityData::Handles(handles) = data else {
        return Err(wrong_value("GetCapability (transient handles)"));
    };
    for handle in handles
        .iter()
        .filter(|h| matches!(h, TpmHandle::Transient(_)))
    {
        let object = ctx
            .execute_without_session(|ctx| ctx.tr_from_tpm_public(*handle))
            .map_err(command("TR_FromTPMPublic (stale object)"))?;
        ctx.flush_context(object)
            .map_err(command("FlushContext (stale object)"))?;
        tracing::warn!(
            handle = format_args!("{:#x}", u32::from(*handle)),
            "flushed a stale object"
        );
    }
    Ok(())
}

/// PolicySecret(TPM_RH_ENDORSEMENT) with an empty endorsement authorisation: the EK's policy A.
pub(super) fn satisfy_ek_policy(ctx: &mut Context, session: AuthSession) -> Result<(), TpmError> {
    let policy = PolicySession::try_from(session).map_err(command("PolicySecret (EK policy)"))?;
    let (attributes, mask) = SessionAttributesBuilder::new()
        .with_continue_session(true)
        .build();
    ctx.tr_sess_set_attributes(session, attributes, mask)
        .map_err(command("TRSess_SetAttributes (EK policy)"))?;
    ctx.execute_with_nullauth_session(|ctx| {
        ctx.policy_secret(
            policy,
            AuthHandle::Endorsement,
            Default::default(),
            Default::default(),
            Default::default(),
            None,
        )
    })
    .map(drop)
    .map_err(command("PolicySecret (EK policy)"))
}

pub(super) fn ek_selection(alg: KeyAlg) -> AsymmetricAlgorithmSelection {
    match alg {
        KeyAlg::Rsa => AsymmetricAlgorithmSelection::Rsa(RsaKeyBits::Rsa2048),
        KeyAlg::Ecc => AsymmetricAlgorithmSelection::Ecc(EccCurve::NistP256),
    }
}

pub(super) fn is_object_memory(error: &TpmError) -> bool {
    matches!(
        error,
        TpmError::Command { source: TssError::Tss2Error(rc), .. }
            if rc.kind() == Some(Tss2ResponseCodeKind::ObjectMemory)
    )
}

/// Whether a TPM2_Load failure says the stored key blob itself is unusable: integrity, size,
/// value, key or scheme errors about inPrivate/inPublic, or a sensitive area that does not
/// unmarshal after decryption. Authorisation failures (e.g. an endorsement password the policy
/// session lacks), a bad parent handle, TPM warnings (out of memory, retry) and transport failures
/// are not the blob's fault.
fn rejects_key_blob(error: &TssError) -> bool {
    use Tss2ResponseCodeKind as K;
    let TssError::Tss2Error(rc) = error else {
        return false;
    };
    match (rc, rc.kind()) {
        (_, Some(K::Sensitive)) => true,
        (
            _,
            Some(
                K::AuthFail
                | K::BadAuth
                | K::PolicyFail
                | K::PolicyCc
                | K::Expired
                | K::Nonce
                | K::Handle
                | K::Hierarchy,
            ),
        ) => false,
        (Tss2ResponseCode::FormatOne(_), _) => true,
        _ => false,
    }
}
