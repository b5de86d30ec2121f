use super::*;

fn config(text: &str) -> Result<crate::config::Config, String> {
    crate::config::Config::parse(text, std::path::Path::new("faultline.toml")).map_err(|e| e.to_string())
}

#[test]
fn config_defaults_and_errors_name_the_key() {
    let c = config(
        "[[sources.cloudwatch]]\nregion = \"eu-west-1\"\n[[sources.cloudwatch.metrics]]\nnamespace = \"AWS/EC2\"\n\
         metric = \"CPUUtilization\"\ndimensions = { InstanceId = \"i-1\" }\nentity = \"host:{InstanceId}\"\n",
    )
    .unwrap();
    let cw = &c.sources.cloudwatch[0];
    assert_eq!((cw.name.as_str(), cw.alarms, cw.instances, cw.interval.millis()), ("cloudwatch", true, true, 60_000));
    assert_eq!((cw.metrics[0].stat.as_str(), cw.metrics[0].period.millis()), ("Average", 60_000));
    assert_eq!(cw.service("monitoring", "monitoring").url, "https://monitoring.eu-west-1.amazonaws.com/");

    let e = config("[[sources.cloudwatch]]\nregion = \"eu-west-9\"\n").unwrap_err();
    assert!(e.contains("sources.cloudwatch[0].region: `eu-west-9` is not an AWS region"), "{e}");
    // Any region name goes with an endpoint (an emulator, a partition not listed).
    assert!(config("[[sources.cloudwatch]]\nregion = \"local\"\nendpoint = \"http://127.0.0.1:5000\"\n").is_ok());
    let e = config("[[sources.cloudwatch]]\nregion = \"us-east-1\"\nregoin = \"x\"\n").unwrap_err();
    assert!(e.contains("unknown field `regoin`"), "{e}");
    let base = "[[sources.cloudwatch]]\nregion = \"us-east-1\"\n[[sources.cloudwatch.metrics]]\n";
    let e = config(&format!("{base}namespace = \"AWS/EC2\"\n")).unwrap_err();
    assert!(e.contains("sources.cloudwatch[0].metrics[0].metric: missing"), "{e}");
    let e = config(&format!("{base}expression = \"SEARCH('x', 'Average')\"\n")).unwrap_err();
    assert!(e.contains("sources.cloudwatch[0].metrics[0].name: an expression needs a `name`"), "{e}");
    let e = config(&format!("{base}namespace = \"A\"\nmetric = \"M\"\nperiod = \"90s\"\n")).unwrap_err();
    assert!(e.contains("sources.cloudwatch[0].metrics[0].period: 1m 30s is not 1s"), "{e}");
    let e = config(&format!("{base}namespace = \"A\"\nmetric = \"M\"\nentity = \"host:{{Instance\"\n")).unwrap_err();
    assert!(e.contains("never closed"), "{e}");
}

#[test]
fn dimensions_name_hosts_services_or_go_through_the_mapping() {
    let m = Mapping::default();
    let dims = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    assert_eq!(entity_of(&dims(&[("InstanceId", "i-9")]), &m), Some((EntityId::new("host:i-9"), EntityKind::Host)));
    let asg = entity_of(&dims(&[("AutoScalingGroupName", "web")]), &m);
    assert_eq!(asg, Some((EntityId::new("service:web"), EntityKind::Service)));
    // The default mapping knows `service`.
    assert_eq!(entity_of(&dims(&[("service", "api")]), &m).map(|e| e.0), Some(EntityId::new("service:api")));
    assert_eq!(entity_of(&dims(&[("QueueName", "q")]), &m), None);
}
