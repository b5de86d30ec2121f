//! The AWS query protocol as this source speaks it: the parameters of `GetMetricData`,
//! `DescribeAlarms` (CloudWatch, `Version=2010-08-01`) and `DescribeInstances` (EC2,
//! `Version=2016-11-15`), and their XML answers decoded. Pure: no I/O.

use serde::Deserialize;
use std::collections::BTreeMap;

/// An error answer: CloudWatch's `<ErrorResponse><Error>…` or EC2's `<Response><Errors><Error>…`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub code: String,
    pub message: String,
}

impl ApiError {
    /// AWS asks to slow down: back off, do not fail.
    pub fn is_throttling(&self) -> bool {
        matches!(
            self.code.as_str(),
            "Throttling"
                | "ThrottlingException"
                | "RequestLimitExceeded"
                | "TooManyRequestsException"
                | "RequestThrottled"
        )
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(rename = "Code", default)]
    code: String,
    #[serde(rename = "Message", default)]
    message: String,
}

#[derive(Deserialize)]
struct ErrorResponse {
    #[serde(rename = "Error", default)]
    error: Option<ErrorBody>,
    #[serde(rename = "Errors", default)]
    errors: Option<Errors>,
}

#[derive(Deserialize)]
struct Errors {
    #[serde(rename = "Error", default)]
    error: Vec<ErrorBody>,
}

/// The error an answer's body holds, if it is one.
pub fn error_of(body: &str) -> Option<ApiError> {
    let r: ErrorResponse = quick_xml::de::from_str(body).ok()?;
    let e = r.error.or_else(|| r.errors.and_then(|e| e.error.into_iter().next()))?;
    (!e.code.is_empty()).then_some(ApiError { code: e.code, message: e.message })
}

/// `Foo.member.N` lists as quick-xml sees them.
#[derive(Debug, Clone, Deserialize)]
pub struct Members<T> {
    #[serde(rename = "member", default = "Vec::new")]
    pub member: Vec<T>,
}

impl<T> Default for Members<T> {
    fn default() -> Self {
        Members { member: Vec::new() }
    }
}

/// EC2's lists: `<item>`s.
#[derive(Debug, Clone, Deserialize)]
pub struct Items<T> {
    #[serde(rename = "item", default = "Vec::new")]
    pub item: Vec<T>,
}

impl<T> Default for Items<T> {
    fn default() -> Self {
        Items { item: Vec::new() }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Dimension {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Value")]
    pub value: String,
}

/// What one entry of `MetricDataQueries` asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Query<'a> {
    Stat { namespace: &'a str, metric: &'a str, dimensions: &'a BTreeMap<String, String>, stat: &'a str, period_s: i64 },
    Expression { expression: &'a str, period_s: i64 },
}

/// The parameters of one `GetMetricData` call. `queries` are (id, query); times in RFC 3339.
pub fn get_metric_data(
    queries: &[(String, Query)],
    start: &str,
    end: &str,
    next_token: Option<&str>,
) -> Vec<(String, String)> {
    let mut p = vec![
        ("Action".to_string(), "GetMetricData".to_string()),
        ("Version".into(), "2010-08-01".into()),
        ("StartTime".into(), start.into()),
        ("EndTime".into(), end.into()),
        ("ScanBy".into(), "TimestampAscending".into()),
    ];
    for (n, (id, q)) in queries.iter().enumerate() {
        let k = |rest: &str| format!("MetricDataQueries.member.{}.{rest}", n + 1);
        p.push((k("Id"), id.clone()));
        p.push((k("ReturnData"), "true".into()));
        match q {
            Query::Stat { namespace, metric, dimensions, stat, period_s } => {
                p.push((k("MetricStat.Metric.Namespace"), namespace.to_string()));
                p.push((k("MetricStat.Metric.MetricName"), metric.to_string()));
                for (d, (name, value)) in dimensions.iter().enumerate() {
                    p.push((k(&format!("MetricStat.Metric.Dimensions.member.{}.Name", d + 1)), name.clone()));
                    p.push((k(&format!("MetricStat.Metric.Dimensions.member.{}.Value", d + 1)), value.clone()));
                }
                p.push((k("MetricStat.Period"), period_s.to_string()));
                p.push((k("MetricStat.Stat"), stat.to_string()));
            }
            Query::Expression { expression, period_s } => {
                p.push((k("Expression"), expression.to_string()));
                p.push((k("Period"), period_s.to_string()));
            }
        }
    }
    if let Some(t) = next_token {
        p.push(("NextToken".into(), t.into()));
    }
    p
}

#[derive(Debug, Deserialize)]
pub struct GetMetricDataResponse {
    #[serde(rename = "GetMetricDataResult")]
    pub result: GetMetricDataResult,
}

#[derive(Debug, Deserialize)]
pub struct GetMetricDataResult {
    #[serde(rename = "MetricDataResults", default)]
    pub results: Members<MetricDataResult>,
    #[serde(rename = "NextToken", default)]
    pub next_token: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct MetricDataResult {
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "Label", default)]
    pub label: String,
    #[serde(rename = "Timestamps", default)]
    pub timestamps: Members<String>,
    #[serde(rename = "Values", default)]
    pub values: Members<f64>,
    #[serde(rename = "StatusCode", default)]
    pub status: String,
}

pub fn describe_alarms(next_token: Option<&str>) -> Vec<(String, String)> {
    let mut p = vec![
        ("Action".to_string(), "DescribeAlarms".to_string()),
        ("Version".into(), "2010-08-01".into()),
        ("MaxRecords".into(), "100".into()),
    ];
    if let Some(t) = next_token {
        p.push(("NextToken".into(), t.into()));
    }
    p
}

#[derive(Debug, Deserialize)]
pub struct DescribeAlarmsResponse {
    #[serde(rename = "DescribeAlarmsResult")]
    pub result: DescribeAlarmsResult,
}

#[derive(Debug, Deserialize)]
pub struct DescribeAlarmsResult {
    #[serde(rename = "MetricAlarms", default)]
    pub alarms: Members<MetricAlarm>,
    #[serde(rename = "NextToken", default)]
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MetricAlarm {
    #[serde(rename = "AlarmName")]
    pub name: String,
    #[serde(rename = "AlarmArn")]
    pub arn: String,
    /// `OK`, `ALARM` or `INSUFFICIENT_DATA`.
    #[serde(rename = "StateValue")]
    pub state: String,
    #[serde(rename = "StateReason", default)]
    pub reason: String,
    #[serde(rename = "Namespace", default)]
    pub namespace: String,
    #[serde(rename = "MetricName", default)]
    pub metric: String,
    #[serde(rename = "Dimensions", default)]
    pub dimensions: Members<Dimension>,
}

pub fn describe_instances(next_token: Option<&str>) -> Vec<(String, String)> {
    let mut p = vec![
        ("Action".to_string(), "DescribeInstances".to_string()),
        ("Version".into(), "2016-11-15".into()),
        ("MaxResults".into(), "1000".into()),
    ];
    if let Some(t) = next_token {
        p.push(("NextToken".into(), t.into()));
    }
    p
}

#[derive(Debug, Deserialize)]
pub struct DescribeInstancesResponse {
    #[serde(rename = "reservationSet", default)]
    pub reservations: Items<Reservation>,
    #[serde(rename = "nextToken", default)]
    pub next_token: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Reservation {
    #[serde(rename = "instancesSet", default)]
    pub instances: Items<Instance>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Instance {
    #[serde(rename = "instanceId")]
    pub id: String,
    #[serde(rename = "instanceType", default)]
    pub instance_type: String,
    #[serde(rename = "instanceState", default)]
    pub state: Option<InstanceState>,
    #[serde(rename = "placement", default)]
    pub placement: Option<Placement>,
    #[serde(rename = "privateIpAddress", default)]
    pub private_ip: Option<String>,
    #[serde(rename = "tagSet", default)]
    pub tags: Items<Tag>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InstanceState {
    #[serde(default)]
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Placement {
    #[serde(rename = "availabilityZone", default)]
    pub availability_zone: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Tag {
    pub key: String,
    #[serde(default)]
    pub value: String,
}

/// An answer decoded into `T`, or why not (naming `action` and `url`).
pub fn decode<T: serde::de::DeserializeOwned>(action: &str, url: &str, body: &str) -> Result<T, String> {
    quick_xml::de::from_str(body).map_err(|e| format!("{action} {url}: not the answer expected: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_of_both_protocol_flavours() {
        let cw = r#"<ErrorResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/"><Error><Type>Sender</Type>
            <Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>r</RequestId></ErrorResponse>"#;
        let e = error_of(cw).unwrap();
        assert_eq!(e.to_string(), "Throttling: Rate exceeded");
        assert!(e.is_throttling());
        let ec2 = "<Response><Errors><Error><Code>AuthFailure</Code><Message>no</Message></Error></Errors>\
                   <RequestID>x</RequestID></Response>";
        let e = error_of(ec2).unwrap();
        assert_eq!((e.code.as_str(), e.is_throttling()), ("AuthFailure", false));
        assert_eq!(error_of("<GetMetricDataResponse/>"), None);
    }

    #[test]
    fn get_metric_data_parameters_and_answer() {
        let dims: BTreeMap<String, String> = [("InstanceId".to_string(), "i-1".to_string())].into();
        let q = Query::Stat {
            namespace: "AWS/EC2",
            metric: "CPUUtilization",
            dimensions: &dims,
            stat: "Average",
            period_s: 60,
        };
        let p = get_metric_data(&[("m0".into(), q)], "2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z", Some("tok"));
        let find = |k: &str| p.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(find("MetricDataQueries.member.1.MetricStat.Metric.Dimensions.member.1.Value"), Some("i-1"));
        assert_eq!(find("MetricDataQueries.member.1.MetricStat.Period"), Some("60"));
        assert_eq!(find("NextToken"), Some("tok"));
        let body = r#"<GetMetricDataResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/">
          <GetMetricDataResult><MetricDataResults><member><Id>m0</Id><Label>CPUUtilization</Label>
          <Timestamps><member>2026-01-01T00:00:00Z</member><member>2026-01-01T00:01:00Z</member></Timestamps>
          <Values><member>1.5</member><member>2</member></Values><StatusCode>Complete</StatusCode></member>
          </MetricDataResults><NextToken>n2</NextToken><Messages/></GetMetricDataResult>
          <ResponseMetadata><RequestId>x</RequestId></ResponseMetadata></GetMetricDataResponse>"#;
        let r: GetMetricDataResponse = decode("GetMetricData", "u", body).unwrap();
        let m = &r.result.results.member[0];
        assert_eq!((m.id.as_str(), m.values.member.as_slice()), ("m0", [1.5, 2.0].as_slice()));
        assert_eq!(m.timestamps.member.len(), 2);
        assert_eq!(r.result.next_token.as_deref(), Some("n2"));
    }

    #[test]
    fn alarms_and_instances_answers() {
        let body = r#"<DescribeAlarmsResponse><DescribeAlarmsResult><MetricAlarms><member>
          <AlarmName>cpu-high</AlarmName><AlarmArn>arn:aws:cloudwatch:us-east-1:1:alarm:cpu-high</AlarmArn>
          <StateValue>ALARM</StateValue><StateReason>Threshold Crossed</StateReason><Namespace>AWS/EC2</Namespace>
          <MetricName>CPUUtilization</MetricName><Dimensions><member><Name>InstanceId</Name><Value>i-1</Value>
          </member></Dimensions></member></MetricAlarms><CompositeAlarms/></DescribeAlarmsResult></DescribeAlarmsResponse>"#;
        let r: DescribeAlarmsResponse = decode("DescribeAlarms", "u", body).unwrap();
        let a = &r.result.alarms.member[0];
        assert_eq!((a.state.as_str(), a.dimensions.member[0].value.as_str()), ("ALARM", "i-1"));
        let body = r#"<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId>
          <reservationSet><item><reservationId>r-1</reservationId><instancesSet><item><instanceId>i-1</instanceId>
          <instanceType>t3.micro</instanceType><instanceState><code>16</code><name>running</name></instanceState>
          <placement><availabilityZone>us-east-1a</availabilityZone></placement>
          <tagSet><item><key>Name</key><value>web-1</value></item></tagSet></item></instancesSet></item></reservationSet>
          </DescribeInstancesResponse>"#;
        let r: DescribeInstancesResponse = decode("DescribeInstances", "u", body).unwrap();
        let i = &r.reservations.item[0].instances.item[0];
        assert_eq!((i.id.as_str(), i.tags.item[0].value.as_str()), ("i-1", "web-1"));
        assert_eq!(i.state.as_ref().unwrap().name, "running");
    }
}
