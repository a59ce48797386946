//! Fault and latency injection from a seeded random source, and per-operation counters.
//!
//! Each operation owns its own ChaCha generator seeded from `seed` and the operation name, so
//! the sequence of faults one operation sees does not depend on how calls to other operations
//! interleave. A request draws, in order: its latency, then one uniform number that selects
//! at most one fault (`429`, `500`, `503`, connection reset, hang) by cumulative rate.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;
use serde::Serialize;

/// The operations the simulator serves, named as OCI names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// `GET /vnics/{id}`.
    GetVnic,
    /// `GET /vnicAttachments`.
    ListVnicAttachments,
    /// `GET /vnicAttachments/{id}`.
    GetVnicAttachment,
    /// `POST /vnicAttachments`.
    AttachVnic,
    /// `DELETE /vnicAttachments/{id}`.
    DetachVnic,
    /// `POST /privateIps`.
    CreatePrivateIp,
    /// `GET /privateIps/{id}`.
    GetPrivateIp,
    /// `GET /privateIps`.
    ListPrivateIps,
    /// `PUT /privateIps/{id}`.
    UpdatePrivateIp,
    /// `DELETE /privateIps/{id}`.
    DeletePrivateIp,
    /// `GET /subnets/{id}`.
    GetSubnet,
    /// `GET /subnets`.
    ListSubnets,
    /// `GET /vcns/{id}`.
    GetVcn,
    /// `GET /instances/{id}`.
    GetInstance,
    /// `GET /shapes`.
    ListShapes,
    /// `POST /ipv6`.
    CreateIpv6,
    /// `GET /ipv6/{id}`.
    GetIpv6,
    /// `GET /ipv6`.
    ListIpv6s,
    /// `DELETE /ipv6/{id}`.
    DeleteIpv6,
    /// Any instance metadata service request.
    Metadata,
    /// `POST /v1/x509`.
    Federate,
    /// A request no route matched.
    Unknown,
}

impl Operation {
    /// Every operation, in declaration order.
    pub const ALL: [Operation; 22] = [
        Operation::GetVnic,
        Operation::ListVnicAttachments,
        Operation::GetVnicAttachment,
        Operation::AttachVnic,
        Operation::DetachVnic,
        Operation::CreatePrivateIp,
        Operation::GetPrivateIp,
        Operation::ListPrivateIps,
        Operation::UpdatePrivateIp,
        Operation::DeletePrivateIp,
        Operation::GetSubnet,
        Operation::ListSubnets,
        Operation::GetVcn,
        Operation::GetInstance,
        Operation::ListShapes,
        Operation::CreateIpv6,
        Operation::GetIpv6,
        Operation::ListIpv6s,
        Operation::DeleteIpv6,
        Operation::Metadata,
        Operation::Federate,
        Operation::Unknown,
    ];

    /// The OCI operation name, e.g. `CreatePrivateIp`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Operation::GetVnic => "GetVnic",
            Operation::ListVnicAttachments => "ListVnicAttachments",
            Operation::GetVnicAttachment => "GetVnicAttachment",
            Operation::AttachVnic => "AttachVnic",
            Operation::DetachVnic => "DetachVnic",
            Operation::CreatePrivateIp => "CreatePrivateIp",
            Operation::GetPrivateIp => "GetPrivateIp",
            Operation::ListPrivateIps => "ListPrivateIps",
            Operation::UpdatePrivateIp => "UpdatePrivateIp",
            Operation::DeletePrivateIp => "DeletePrivateIp",
            Operation::GetSubnet => "GetSubnet",
            Operation::ListSubnets => "ListSubnets",
            Operation::GetVcn => "GetVcn",
            Operation::GetInstance => "GetInstance",
            Operation::ListShapes => "ListShapes",
            Operation::CreateIpv6 => "CreateIpv6",
            Operation::GetIpv6 => "GetIpv6",
            Operation::ListIpv6s => "ListIpv6s",
            Operation::DeleteIpv6 => "DeleteIpv6",
            Operation::Metadata => "Metadata",
            Operation::Federate => "Federate",
            Operation::Unknown => "Unknown",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Operation {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Operation::ALL
            .into_iter()
            .find(|op| op.name() == s)
            .ok_or_else(|| format!("unknown operation {s}"))
    }
}

/// A latency distribution, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub enum Latency {
    /// Answer at once.
    #[default]
    None,
    /// Always the same delay.
    Fixed {
        /// Delay.
        ms: u64,
    },
    /// Uniform between two bounds.
    #[serde(rename_all = "camelCase")]
    Uniform {
        /// Lower bound.
        min_ms: u64,
        /// Upper bound.
        max_ms: u64,
    },
    /// Exponential with a mean, cut at a maximum (a long tail without unbounded waits).
    #[serde(rename_all = "camelCase")]
    Exponential {
        /// Mean.
        mean_ms: u64,
        /// Cut-off.
        max_ms: u64,
    },
}

impl Latency {
    fn sample(&self, rng: &mut ChaCha8Rng) -> Duration {
        let ms = match *self {
            Latency::None => 0.0,
            Latency::Fixed { ms } => ms as f64,
            Latency::Uniform { min_ms, max_ms } => {
                if max_ms <= min_ms {
                    min_ms as f64
                } else {
                    rng.gen_range(min_ms as f64..max_ms as f64)
                }
            }
            Latency::Exponential { mean_ms, max_ms } => {
                let u: f64 = rng.r#gen::<f64>();
                (-(1.0 - u).ln() * mean_ms as f64).min(max_ms as f64)
            }
        };
        Duration::from_secs_f64(ms.max(0.0) / 1_000.0)
    }
}

/// Faults and latency for one operation. Rates are probabilities per request; their sum must
/// not exceed 1.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
#[non_exhaustive]
pub struct FaultSpec {
    /// Added latency.
    pub latency: Latency,
    /// Rate of `429 TooManyRequests`.
    pub too_many_requests: f64,
    /// Rate of `500 InternalServerError`.
    pub internal_error: f64,
    /// Rate of `503 ServiceUnavailable`.
    pub service_unavailable: f64,
    /// Rate of connections closed without an answer.
    pub connection_reset: f64,
    /// Rate of requests that hang for `hangMs` and then close without an answer.
    pub hang: f64,
    /// Rate of requests that are carried out but whose answer is lost (the connection closes
    /// after the change was made): what makes retry tokens necessary.
    pub lost_response: f64,
    /// How long a hang lasts.
    pub hang_ms: u64,
}

impl Default for FaultSpec {
    fn default() -> Self {
        Self {
            latency: Latency::None,
            too_many_requests: 0.0,
            internal_error: 0.0,
            service_unavailable: 0.0,
            connection_reset: 0.0,
            hang: 0.0,
            lost_response: 0.0,
            hang_ms: 120_000,
        }
    }
}

impl FaultSpec {
    /// No faults, no latency.
    #[must_use]
    pub fn none() -> Self {
        Self::default()
    }

    /// Sets the latency.
    #[must_use]
    pub fn with_latency(mut self, latency: Latency) -> Self {
        self.latency = latency;
        self
    }

    /// Sets the rate of `429 TooManyRequests`.
    #[must_use]
    pub fn with_too_many_requests(mut self, rate: f64) -> Self {
        self.too_many_requests = rate;
        self
    }

    /// Sets the rate of `500 InternalServerError`.
    #[must_use]
    pub fn with_internal_error(mut self, rate: f64) -> Self {
        self.internal_error = rate;
        self
    }

    /// Sets the rate of `503 ServiceUnavailable`.
    #[must_use]
    pub fn with_service_unavailable(mut self, rate: f64) -> Self {
        self.service_unavailable = rate;
        self
    }

    /// Sets the rate of connection resets.
    #[must_use]
    pub fn with_connection_reset(mut self, rate: f64) -> Self {
        self.connection_reset = rate;
        self
    }

    /// Sets the rate of lost responses (operation done, answer never sent).
    #[must_use]
    pub fn with_lost_response(mut self, rate: f64) -> Self {
        self.lost_response = rate;
        self
    }

    /// Sets the rate and duration of hangs.
    #[must_use]
    pub fn with_hang(mut self, rate: f64, hang: Duration) -> Self {
        self.hang = rate;
        self.hang_ms = u64::try_from(hang.as_millis()).unwrap_or(u64::MAX);
        self
    }

    fn validate(&self, name: &str) -> Result<(), String> {
        let rates = [
            self.too_many_requests,
            self.internal_error,
            self.service_unavailable,
            self.connection_reset,
            self.hang,
            self.lost_response,
        ];
        if rates.iter().any(|r| !(0.0..=1.0).contains(r)) || rates.iter().sum::<f64>() > 1.0 {
            return Err(format!(
                "faults for {name}: each rate must lie in 0..=1 and their sum too"
            ));
        }
        Ok(())
    }
}

/// Fault settings for the whole simulator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
#[non_exhaustive]
pub struct FaultSettings {
    /// Seed of every random decision (faults, latency, attachment failures).
    pub seed: u64,
    /// Applies to operations not listed in `operations`.
    pub default: FaultSpec,
    /// Per-operation settings, keyed by OCI operation name (`CreatePrivateIp`, ...).
    pub operations: BTreeMap<String, FaultSpec>,
}

impl Default for FaultSettings {
    fn default() -> Self {
        Self {
            seed: 1,
            default: FaultSpec::none(),
            operations: BTreeMap::new(),
        }
    }
}

impl FaultSettings {
    /// No faults, with the given seed.
    #[must_use]
    pub fn seeded(seed: u64) -> Self {
        Self {
            seed,
            ..Self::default()
        }
    }

    /// Sets the spec for operations without their own.
    #[must_use]
    pub fn with_default(mut self, spec: FaultSpec) -> Self {
        self.default = spec;
        self
    }

    /// Sets the spec for one operation.
    #[must_use]
    pub fn with_operation(mut self, operation: Operation, spec: FaultSpec) -> Self {
        self.operations.insert(operation.name().to_owned(), spec);
        self
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        self.default.validate("default")?;
        for (name, spec) in &self.operations {
            name.parse::<Operation>()
                .map_err(|e| format!("faults.operations: {e}"))?;
            spec.validate(name)?;
        }
        Ok(())
    }

    fn spec(&self, operation: Operation) -> &FaultSpec {
        self.operations
            .get(operation.name())
            .unwrap_or(&self.default)
    }
}

/// What a request suffers before (or instead of) being served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Injected {
    /// Serve normally.
    Serve,
    /// Answer with this status and OCI code.
    Status(u16, &'static str),
    /// Close the connection without an answer.
    Reset,
    /// Wait this long, then close without an answer.
    Hang(Duration),
    /// Serve, then close without sending the answer.
    LostResponse,
}

/// A fault scripted for the next calls of an operation ([`Sim::inject`](crate::Sim::inject)):
/// deterministic, unlike the rates of [`FaultSpec`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// `429 TooManyRequests`.
    TooManyRequests,
    /// `500 InternalServerError`.
    InternalServerError,
    /// `501 MethodNotImplemented` (not retryable).
    MethodNotImplemented,
    /// `502 BadGateway`.
    BadGateway,
    /// `503 ServiceUnavailable`.
    ServiceUnavailable,
    /// `504 GatewayTimeout`.
    GatewayTimeout,
    /// `409 IncorrectState` (retryable per the SDKs).
    IncorrectState,
    /// `409 LockConflict` (retryable per the SDKs).
    LockConflict,
    /// `401 NotAuthenticated` (as an expired token would get).
    NotAuthenticated,
    /// The connection closes without an answer; nothing is done.
    ConnectionReset,
    /// The request hangs this long, then the connection closes; nothing is done.
    Hang(Duration),
    /// The operation is carried out, then the connection closes without an answer.
    LostResponse,
}

impl Fault {
    fn injected(self) -> Injected {
        match self {
            Fault::TooManyRequests => Injected::Status(429, "TooManyRequests"),
            Fault::InternalServerError => Injected::Status(500, "InternalServerError"),
            Fault::MethodNotImplemented => Injected::Status(501, "MethodNotImplemented"),
            Fault::BadGateway => Injected::Status(502, "BadGateway"),
            Fault::ServiceUnavailable => Injected::Status(503, "ServiceUnavailable"),
            Fault::GatewayTimeout => Injected::Status(504, "GatewayTimeout"),
            Fault::IncorrectState => Injected::Status(409, "IncorrectState"),
            Fault::LockConflict => Injected::Status(409, "LockConflict"),
            Fault::NotAuthenticated => Injected::Status(401, "NotAuthenticated"),
            Fault::ConnectionReset => Injected::Reset,
            Fault::Hang(duration) => Injected::Hang(duration),
            Fault::LostResponse => Injected::LostResponse,
        }
    }
}

/// The seeded decision maker, plus scripted faults that take precedence.
#[derive(Debug)]
pub(crate) struct FaultInjector {
    settings: FaultSettings,
    rngs: BTreeMap<Operation, ChaCha8Rng>,
    scripted: BTreeMap<Operation, std::collections::VecDeque<Injected>>,
}

impl FaultInjector {
    pub(crate) fn new(settings: FaultSettings) -> Self {
        Self {
            settings,
            rngs: BTreeMap::new(),
            scripted: BTreeMap::new(),
        }
    }

    /// Replaces the settings and re-seeds; scripted faults stay queued.
    pub(crate) fn replace(&mut self, settings: FaultSettings) {
        self.settings = settings;
        self.rngs.clear();
    }

    /// Queues `fault` for the next `times` calls of `operation`.
    pub(crate) fn script(&mut self, operation: Operation, fault: Fault, times: usize) {
        let queue = self.scripted.entry(operation).or_default();
        queue.extend(std::iter::repeat_n(fault.injected(), times));
    }

    /// Draws latency and fault for one request of `operation`.
    pub(crate) fn decide(&mut self, operation: Operation) -> (Duration, Injected) {
        let scripted = self
            .scripted
            .get_mut(&operation)
            .and_then(|q| q.pop_front());
        let (latency, drawn) = self.draw(operation);
        (latency, scripted.unwrap_or(drawn))
    }

    fn draw(&mut self, operation: Operation) -> (Duration, Injected) {
        let spec = *self.settings.spec(operation);
        let seed = self.settings.seed;
        let rng = self.rngs.entry(operation).or_insert_with(|| {
            let salt = operation
                .name()
                .bytes()
                .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                    (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
                });
            ChaCha8Rng::seed_from_u64(seed ^ salt)
        });

        let latency = spec.latency.sample(rng);
        let draw: f64 = rng.r#gen::<f64>();

        let mut edge = spec.too_many_requests;
        if draw < edge {
            return (latency, Injected::Status(429, "TooManyRequests"));
        }
        edge += spec.internal_error;
        if draw < edge {
            return (latency, Injected::Status(500, "InternalServerError"));
        }
        edge += spec.service_unavailable;
        if draw < edge {
            return (latency, Injected::Status(503, "ServiceUnavailable"));
        }
        edge += spec.connection_reset;
        if draw < edge {
            return (latency, Injected::Reset);
        }
        edge += spec.hang;
        if draw < edge {
            return (latency, Injected::Hang(Duration::from_millis(spec.hang_ms)));
        }
        edge += spec.lost_response;
        if draw < edge {
            return (latency, Injected::LostResponse);
        }
        (latency, Injected::Serve)
    }
}

/// How a request ended, for the counters.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Outcome {
    /// Served with a 2xx status.
    Success(u16),
    /// Refused with an OCI error (status, code) by the simulator's rules or authentication.
    Error(u16, String),
    /// An injected error status (429, 500, 503).
    InjectedError(u16),
    /// An injected connection reset.
    InjectedReset,
    /// An injected hang.
    InjectedHang,
    /// Carried out, but the answer was dropped by fault injection.
    InjectedLostResponse,
}

/// A snapshot of the per-operation, per-outcome call counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub(crate) counts: BTreeMap<(Operation, Outcome), u64>,
}

impl Counters {
    /// Calls of `operation` that ended with `outcome`.
    #[must_use]
    pub fn get(&self, operation: Operation, outcome: &Outcome) -> u64 {
        self.counts
            .get(&(operation, outcome.clone()))
            .copied()
            .unwrap_or(0)
    }

    /// All calls of `operation`, whatever the outcome.
    #[must_use]
    pub fn total(&self, operation: Operation) -> u64 {
        self.counts
            .iter()
            .filter(|((op, _), _)| *op == operation)
            .map(|(_, n)| n)
            .sum()
    }

    /// Calls of `operation` that were carried out: 2xx answers plus lost responses.
    #[must_use]
    pub fn carried_out(&self, operation: Operation) -> u64 {
        self.successes(operation) + self.get(operation, &Outcome::InjectedLostResponse)
    }

    /// Successful calls of `operation` (any 2xx).
    #[must_use]
    pub fn successes(&self, operation: Operation) -> u64 {
        self.counts
            .iter()
            .filter(|((op, out), _)| *op == operation && matches!(out, Outcome::Success(_)))
            .map(|(_, n)| n)
            .sum()
    }

    /// Calls of `operation` refused with this OCI error code.
    #[must_use]
    pub fn errors(&self, operation: Operation, code: &str) -> u64 {
        self.counts
            .iter()
            .filter(|((op, out), _)| {
                *op == operation && matches!(out, Outcome::Error(_, c) if c == code)
            })
            .map(|(_, n)| n)
            .sum()
    }

    /// Calls that received an injected fault of any kind.
    #[must_use]
    pub fn injected(&self, operation: Operation) -> u64 {
        self.counts
            .iter()
            .filter(|((op, out), _)| {
                *op == operation
                    && matches!(
                        out,
                        Outcome::InjectedError(_)
                            | Outcome::InjectedReset
                            | Outcome::InjectedHang
                            | Outcome::InjectedLostResponse
                    )
            })
            .map(|(_, n)| n)
            .sum()
    }

    /// Every (operation, outcome, count) triple.
    pub fn iter(&self) -> impl Iterator<Item = (Operation, &Outcome, u64)> {
        self.counts.iter().map(|((op, out), n)| (*op, out, *n))
    }

    /// Mutating calls that succeeded (attach, detach, private-IP writes).
    #[must_use]
    pub fn mutating_successes(&self) -> u64 {
        [
            Operation::AttachVnic,
            Operation::DetachVnic,
            Operation::CreatePrivateIp,
            Operation::UpdatePrivateIp,
            Operation::DeletePrivateIp,
        ]
        .into_iter()
        .map(|op| self.successes(op))
        .sum()
    }

    pub(crate) fn record(&mut self, operation: Operation, outcome: Outcome) {
        *self.counts.entry((operation, outcome)).or_insert(0) += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draw_many(settings: FaultSettings, op: Operation, n: usize) -> Vec<Injected> {
        let mut injector = FaultInjector::new(settings);
        (0..n).map(|_| injector.decide(op).1).collect()
    }

    #[test]
    fn same_seed_same_faults() {
        let settings = FaultSettings::seeded(7).with_default(
            FaultSpec::none()
                .with_too_many_requests(0.3)
                .with_internal_error(0.2),
        );
        let a = draw_many(settings.clone(), Operation::GetVnic, 200);
        let b = draw_many(settings, Operation::GetVnic, 200);
        assert_eq!(a, b);
    }

    #[test]
    fn rates_are_roughly_honoured() {
        let settings = FaultSettings::seeded(3).with_operation(
            Operation::CreatePrivateIp,
            FaultSpec::none()
                .with_too_many_requests(0.25)
                .with_connection_reset(0.25),
        );
        let draws = draw_many(settings.clone(), Operation::CreatePrivateIp, 4_000);
        let throttled = draws
            .iter()
            .filter(|d| **d == Injected::Status(429, "TooManyRequests"));
        let resets = draws.iter().filter(|d| **d == Injected::Reset).count();
        let throttled = throttled.count();
        assert!((800..1_200).contains(&throttled), "{throttled}");
        assert!((800..1_200).contains(&resets), "{resets}");

        let other = draw_many(settings, Operation::GetVnic, 100);
        assert!(other.iter().all(|d| *d == Injected::Serve));
    }

    #[test]
    fn exponential_latency_is_capped() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let latency = Latency::Exponential {
            mean_ms: 50,
            max_ms: 80,
        };
        for _ in 0..1_000 {
            assert!(latency.sample(&mut rng) <= Duration::from_millis(80));
        }
    }

    #[test]
    fn settings_reject_rates_over_one() {
        let settings = FaultSettings::seeded(1).with_default(
            FaultSpec::none()
                .with_internal_error(0.7)
                .with_hang(0.7, Duration::ZERO),
        );
        assert!(settings.validate().is_err());
        let mut bad = FaultSettings::seeded(1);
        bad.operations
            .insert("CreatePrivateIps".into(), FaultSpec::none());
        assert!(
            bad.validate()
                .expect_err("unknown op")
                .contains("CreatePrivateIps")
        );
    }

    #[test]
    fn operation_names_round_trip() {
        for op in Operation::ALL {
            assert_eq!(op.name().parse::<Operation>(), Ok(op));
        }
    }
}
