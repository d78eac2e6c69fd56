//! Days of routine AWS activity in a production and a data-science account, with costly
//! mistakes planted in the last days (the first of them ended 2 h 10 min later). The seed decides names, times, regions and counts.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::{json, Value};

use crate::{assumed_role, aws_service, iam_user, record, Rng};

/// A planted mistake and the events that make it up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mistake {
    /// What happened, for messages.
    pub what: String,
    /// The events of the mistake, in order. For a single call, one id: it must raise a
    /// critical anomaly on that very event. For a burst, every launch of it: one of them must
    /// raise a critical anomaly, and the burst must alert at most twice.
    pub event_ids: Vec<String>,
}

/// The generated activity.
#[derive(Debug, Clone)]
pub struct Story {
    /// Every record, in event-time order.
    pub records: Vec<Value>,
    /// The costly mistakes planted.
    pub mistakes: Vec<Mistake>,
    /// Legitimate but new things that may raise an info or warning anomaly (never critical).
    pub notable: Vec<String>,
}

struct Writer {
    rng: Rng,
    day0: DateTime<Utc>,
    records: Vec<(DateTime<Utc>, Value)>,
}

impl Writer {
    fn id(&mut self) -> String {
        let (a, b) = (self.rng.next_u64(), self.rng.next_u64());
        format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            b >> 52,
            b & 0xffff_ffff_ffff
        )
    }

    fn at(&mut self, day: i64, hour: i64, minute: i64) -> DateTime<Utc> {
        self.day0
            + Duration::days(day)
            + Duration::hours(hour)
            + Duration::minutes(minute)
            + Duration::seconds(self.rng.below(60) as i64)
    }

    /// A time on `day` at `hour`, some minute below `spread`.
    fn around(&mut self, day: i64, hour: i64, spread: u64) -> DateTime<Utc> {
        let minute = self.rng.below(spread) as i64;
        self.at(day, hour, minute)
    }

    #[allow(clippy::too_many_arguments)]
    fn call(
        &mut self,
        time: DateTime<Utc>,
        who: &Value,
        account: &str,
        region: &str,
        source: &str,
        name: &str,
        request: Value,
        response: Value,
    ) -> String {
        let id = self.id();
        let stamp = time.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        self.records.push((
            time,
            record(
                who, account, region, &stamp, source, name, request, response, &id,
            ),
        ));
        id
    }

    fn failed(
        &mut self,
        time: DateTime<Utc>,
        who: &Value,
        account: &str,
        code: &str,
        request: Value,
    ) {
        let id = self.call(
            time,
            who,
            account,
            "us-east-1",
            "ec2.amazonaws.com",
            "RunInstances",
            request,
            Value::Null,
        );
        if let Some((_, last)) = self.records.last_mut() {
            last["errorCode"] = json!(code);
            last["errorMessage"] = json!(format!("{code} for {id}"));
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn run_instances(
        &mut self,
        time: DateTime<Utc>,
        who: &Value,
        account: &str,
        region: &str,
        instance_type: &str,
        count: u32,
    ) -> (String, Vec<String>) {
        let ids: Vec<String> = (0..count)
            .map(|_| format!("i-0{:016x}", self.rng.next_u64() >> 1))
            .collect();
        let items: Vec<Value> = ids
            .iter()
            .map(|i| json!({"instanceId": i, "imageId": "ami-0a1b2c3d4e5f60718", "instanceType": instance_type, "currentState": {"code": 0, "name": "pending"}, "placement": {"availabilityZone": format!("{region}a")}}))
            .collect();
        let request = json!({"instancesSet": {"items": [{"imageId": "ami-0a1b2c3d4e5f60718", "minCount": count, "maxCount": count}]}, "instanceType": instance_type, "subnetId": "subnet-0aa11bb22cc33dd44"});
        let response = json!({"requestId": "r", "reservationId": format!("r-0{:016x}", self.rng.next_u64() >> 1), "ownerId": account, "instancesSet": {"items": items}});
        (
            self.call(
                time,
                who,
                account,
                region,
                "ec2.amazonaws.com",
                "RunInstances",
                request,
                response,
            ),
            ids,
        )
    }

    fn terminate(
        &mut self,
        time: DateTime<Utc>,
        who: &Value,
        account: &str,
        region: &str,
        ids: &[String],
    ) {
        let items: Vec<Value> = ids.iter().map(|i| json!({"instanceId": i})).collect();
        let response = json!({"instancesSet": {"items": ids.iter().map(|i| json!({"instanceId": i, "currentState": {"code": 32, "name": "shutting-down"}, "previousState": {"code": 16, "name": "running"}})).collect::<Vec<_>>()}});
        self.call(
            time,
            who,
            account,
            region,
            "ec2.amazonaws.com",
            "TerminateInstances",
            json!({"instancesSet": {"items": items}}),
            response,
        );
    }

    fn noise(&mut self, day: i64, who: &Value, account: &str, count: u32) {
        const READS: [(&str, &str); 8] = [
            ("ec2.amazonaws.com", "DescribeInstances"),
            ("ec2.amazonaws.com", "DescribeSecurityGroups"),
            ("s3.amazonaws.com", "ListBuckets"),
            ("sts.amazonaws.com", "GetCallerIdentity"),
            ("rds.amazonaws.com", "DescribeDBInstances"),
            ("lambda.amazonaws.com", "ListFunctions20150331"),
            ("cloudwatch.amazonaws.com", "GetMetricData"),
            ("iam.amazonaws.com", "ListRoles"),
        ];
        for _ in 0..count {
            let (source, name) = *self.rng.pick(&READS);
            let hour = self.rng.below(24) as i64;
            let time = self.around(day, hour, 60);
            self.call(
                time,
                who,
                account,
                "us-east-1",
                source,
                name,
                json!({}),
                Value::Null,
            );
        }
    }
}

/// Two accounts' activity for `days` days from `start` (at least 10), seeded.
pub fn story(seed: u64, start: NaiveDate, days: u32) -> Story {
    let days = i64::from(days.max(10));
    let mut rng = Rng::new(seed);
    let prod = format!("{:012}", 100_000_000_000 + rng.below(899_999_999_999));
    let data = format!("{:012}", 100_000_000_000 + rng.below(899_999_999_999));
    let day0 = start
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or_default();
    let mut w = Writer {
        rng,
        day0,
        records: Vec::new(),
    };

    let ci_role = "ci-deployer";
    let maria = iam_user(&prod, "maria");
    let terraform = assumed_role(&prod, "terraform", "tf-apply");
    let tom = iam_user(&prod, "dev-tom");
    let scientists = ["li.wei", "sam.k"];
    let console = assumed_role(&prod, "ReadOnly", "oncall");

    for day in 0..days {
        // CI: six builds a day on small instances, terminated after the run.
        for run in 0..6 {
            let time = w.around(day, 7 + run * 2, 30);
            let who = assumed_role(&prod, ci_role, &format!("gha-{}", 4000 + day * 10 + run));
            let count = 1 + w.rng.below(3) as u32;
            let (_, ids) = w.run_instances(time, &who, &prod, "us-east-1", "t3.medium", count);
            w.terminate(time + Duration::minutes(35), &who, &prod, "us-east-1", &ids);
        }
        // CI integration tests: one run a day on two m5.xlarge.
        let time = w.around(day, 13, 20);
        let who = assumed_role(&prod, ci_role, &format!("gha-it-{day}"));
        let (_, ids) = w.run_instances(time, &who, &prod, "us-east-1", "m5.xlarge", 2);
        w.terminate(time + Duration::minutes(50), &who, &prod, "us-east-1", &ids);
        // Auto Scaling follows the daily traffic curve.
        for (hour, region) in [(9, "us-east-1"), (18, "us-east-1"), (12, "us-west-2")] {
            let time = w.around(day, hour, 59);
            let count = 1 + w.rng.below(2) as u32;
            w.run_instances(
                time,
                &aws_service("autoscaling.amazonaws.com"),
                &prod,
                region,
                "m6i.large",
                count,
            );
        }
        // A platform engineer's volumes and snapshots.
        if day % 2 == 0 {
            let time = w.around(day, 11, 59);
            let vol = format!("vol-0{:016x}", w.rng.next_u64() >> 1);
            w.call(time, &maria, &prod, "us-east-1", "ec2.amazonaws.com", "CreateVolume",
                json!({"size": 100, "volumeType": "gp3", "availabilityZone": "us-east-1a", "encrypted": true}),
                json!({"volumeId": vol, "size": "100", "volumeType": "gp3", "status": "creating"}));
        }
        let time = w.at(day, 3, 0);
        w.call(time, &maria, &prod, "us-east-1", "rds.amazonaws.com", "CreateDBSnapshot", json!({"dBSnapshotIdentifier": format!("orders-{day}"), "dBInstanceIdentifier": "orders"}), Value::Null);
        if day % 7 == 2 {
            let time = w.at(day, 15, 10);
            w.call(time, &maria, &prod, "us-east-1", "rds.amazonaws.com", "CreateDBInstance",
                json!({"dBInstanceIdentifier": format!("dev-{day}"), "dBInstanceClass": "db.t3.medium", "engine": "postgres", "allocatedStorage": 20}),
                json!({"dBInstanceIdentifier": format!("dev-{day}"), "dBInstanceClass": "db.t3.medium", "engine": "postgres"}));
        }
        // Terraform's daily apply: security groups and tags, no cost.
        let time = w.around(day, 16, 50);
        w.call(
            time,
            &terraform,
            &prod,
            "us-east-1",
            "ec2.amazonaws.com",
            "AuthorizeSecurityGroupIngress",
            json!({"groupId": "sg-0123456789abcdef0"}),
            json!({"_return": true}),
        );
        w.call(
            time + Duration::seconds(4),
            &terraform,
            &prod,
            "us-east-1",
            "ec2.amazonaws.com",
            "CreateTags",
            json!({"resourcesSet": {"items": [{"resourceId": "sg-0123456789abcdef0"}]}}),
            json!({"_return": true}),
        );
        // A developer without launch rights, and a dry run.
        let time = w.around(day, 10, 59);
        w.failed(
            time,
            &tom,
            &prod,
            "Client.UnauthorizedOperation",
            json!({"instancesSet": {"items": [{"maxCount": 1}]}, "instanceType": "c5.large"}),
        );
        if day % 5 == 4 {
            let time = w.at(day, 10, 30);
            w.failed(
                time,
                &tom,
                &prod,
                "Client.DryRunOperation",
                json!({"instancesSet": {"items": [{"maxCount": 1}]}, "instanceType": "c5.large"}),
            );
        }
        w.noise(day, &console, &prod, 40);

        // Data science: a training job a day, notebooks, a small endpoint weekly.
        let scientist = assumed_role(&data, "DataScientist", scientists[(day % 2) as usize]);
        for (job, hour, instances) in [("churn", 10, 1), ("ltv", 14, 1 + day % 2)] {
            let time = w.around(day, hour, 59);
            w.call(time, &scientist, &data, "us-east-1", "sagemaker.amazonaws.com", "CreateTrainingJob",
                json!({"trainingJobName": format!("{job}-{day}"), "resourceConfig": {"instanceType": "ml.m5.xlarge", "instanceCount": instances, "volumeSizeInGB": 50}}),
                json!({"trainingJobArn": format!("arn:aws:sagemaker:us-east-1:{data}:training-job/{job}-{day}")}));
        }
        if day % 2 == 1 {
            let time = w.at(day, 9, 5);
            w.call(time, &scientist, &data, "us-east-1", "sagemaker.amazonaws.com", "CreateNotebookInstance",
                json!({"notebookInstanceName": format!("nb-{day}"), "instanceType": "ml.t3.medium", "volumeSizeInGB": 20}), Value::Null);
        }
        if day % 7 == 0 {
            let time = w.at(day, 15, 0);
            let config = format!("scoring-v{day}");
            w.call(time, &scientist, &data, "us-east-1", "sagemaker.amazonaws.com", "CreateEndpointConfig",
                json!({"endpointConfigName": config, "productionVariants": [{"variantName": "main", "modelName": "churn", "instanceType": "ml.m5.large", "initialInstanceCount": 1}]}), Value::Null);
            w.call(
                time + Duration::minutes(2),
                &scientist,
                &data,
                "us-east-1",
                "sagemaker.amazonaws.com",
                "CreateEndpoint",
                json!({"endpointName": "scoring", "endpointConfigName": config}),
                Value::Null,
            );
        }
        w.noise(day, &scientist, &data, 20);
    }

    // The mistakes, in the last days.
    let mut mistakes = Vec::new();
    let mut notable = Vec::new();
    let intern = [
        "intern-jake",
        "temp-contractor",
        "eval-sandbox",
        "hackathon-kim",
    ][w.rng.below(4) as usize];
    let far_region = *w
        .rng
        .pick(&["ap-southeast-2", "eu-west-3", "sa-east-1", "ap-northeast-1"]);
    let (gpu, gpus) = *w.rng.pick(&[
        ("p4d.24xlarge", 4u32),
        ("p5.48xlarge", 2),
        ("p4de.24xlarge", 3),
    ]);
    let gpu_launch = w.around(days - 3, 14, 59);
    let (id, gpu_ids) = w.run_instances(
        gpu_launch,
        &iam_user(&prod, intern),
        &prod,
        far_region,
        gpu,
        gpus,
    );
    mistakes.push(Mistake {
        what: format!("new user {intern} launches {gpus} × {gpu} in {far_region}"),
        event_ids: vec![id],
    });

    let who = assumed_role(&prod, ci_role, "gha-runaway-loop");
    let burst_start = w.at(days - 2, 2, 13);
    let mut burst = Vec::new();
    for i in 0..40 {
        let (id, _) = w.run_instances(
            burst_start + Duration::seconds(12 * i),
            &who,
            &prod,
            "us-east-1",
            "m5.xlarge",
            1,
        );
        burst.push(id);
    }
    mistakes.push(Mistake {
        what: "CI loop launches 40 × m5.xlarge in eight minutes".into(),
        event_ids: burst,
    });

    let time = w.at(days - 2, 16, 40);
    let id = w.call(time, &maria, &prod, "us-east-1", "rds.amazonaws.com", "CreateDBInstance",
        json!({"dBInstanceIdentifier": "analytics-replica", "dBInstanceClass": "db.r6g.16xlarge", "engine": "postgres", "multiAZ": true, "allocatedStorage": 2000, "storageType": "io1", "iops": 20000}),
        json!({"dBInstanceIdentifier": "analytics-replica", "dBInstanceClass": "db.r6g.16xlarge", "engine": "postgres", "multiAZ": true}));
    mistakes.push(Mistake {
        what: "db.r6g.16xlarge Multi-AZ for a one-off analysis".into(),
        event_ids: vec![id],
    });

    let scientist = assumed_role(&data, "DataScientist", scientists[0]);
    let time = w.at(days - 1, 10, 5);
    w.call(time, &scientist, &data, "us-east-1", "sagemaker.amazonaws.com", "CreateEndpointConfig",
        json!({"endpointConfigName": "llm-eval", "productionVariants": [{"variantName": "main", "modelName": "llm", "instanceType": "ml.g5.12xlarge", "initialInstanceCount": 2}]}), Value::Null);
    let id = w.call(
        time + Duration::minutes(1),
        &scientist,
        &data,
        "us-east-1",
        "sagemaker.amazonaws.com",
        "CreateEndpoint",
        json!({"endpointName": "llm-eval", "endpointConfigName": "llm-eval"}),
        Value::Null,
    );
    mistakes.push(Mistake {
        what: "2 × ml.g5.12xlarge endpoint left running".into(),
        event_ids: vec![id],
    });

    // Legitimate but new: terraform builds a VPC with three NAT gateways.
    for zone in ["a", "b", "c"] {
        let time = w.at(days - 1, 11, 20);
        let nat = format!("nat-0{:016x}", w.rng.next_u64() >> 1);
        let id = w.call(time, &terraform, &prod, "us-east-1", "ec2.amazonaws.com", "CreateNatGateway",
            json!({"CreateNatGatewayRequest": {"SubnetId": format!("subnet-pub-{zone}"), "AllocationId": format!("eipalloc-{zone}")}}),
            json!({"CreateNatGatewayResponse": {"natGateway": {"natGatewayId": nat, "state": "pending"}}}));
        notable.push(id);
    }

    // Maria finds the intern's GPUs and terminates them: their anomaly resolves itself. Written
    // last so that every record before keeps the ids and times this seed always gave it.
    w.terminate(
        gpu_launch + Duration::minutes(130),
        &maria,
        &prod,
        far_region,
        &gpu_ids,
    );

    w.records.sort_by(|a, b| a.0.cmp(&b.0));
    Story {
        records: w.records.into_iter().map(|(_, r)| r).collect(),
        mistakes,
        notable,
    }
}
