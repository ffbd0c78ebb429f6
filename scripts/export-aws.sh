#!/usr/bin/env bash
# Saves what `vpcectl import aws` reads: the JSON of the AWS CLI's read-only describe calls for
# one region, one file per call (and per resource where the call takes one), in DIR.
#
#   scripts/export-aws.sh [--region R] [--endpoint-url URL] DIR
#
# Needs the AWS CLI and credentials allowed to describe (ec2:Describe*, ec2:Get*, ec2:Search*,
# elasticloadbalancing:Describe*, route53resolver:List*, route53:List*, route53:Get*). Nothing
# is changed in the account. A call that fails (no
# permission, a service not offered) is reported and skipped: its part of the model stays
# empty. --endpoint-url points every call at another endpoint (a local moto_server in tests).
set -euo pipefail

region=${AWS_REGION:-${AWS_DEFAULT_REGION:-}}
endpoint=
dir=
while [ $# -gt 0 ]; do
  case "$1" in
    --region) region=${2:?--region needs a value}; shift 2 ;;
    --endpoint-url) endpoint=${2:?--endpoint-url needs a value}; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "export-aws.sh: unknown option $1" >&2; exit 2 ;;
    *) [ -z "$dir" ] || { echo "export-aws.sh: one DIR only" >&2; exit 2; }; dir=$1; shift ;;
  esac
done
[ -n "$dir" ] || { echo "usage: export-aws.sh [--region R] [--endpoint-url URL] DIR" >&2; exit 2; }
command -v aws >/dev/null || { echo "export-aws.sh: the AWS CLI (aws) is not installed" >&2; exit 1; }
[ -n "$region" ] || { echo "export-aws.sh: give --region (or set AWS_REGION)" >&2; exit 2; }
mkdir -p "$dir"

args=(--region "$region" --output json)
[ -z "$endpoint" ] || args+=(--endpoint-url "$endpoint")
failed=0
# call FILE SERVICE OPERATION [ARGS...]: saves one call's output as DIR/FILE.json.
call() {
  local file=$1; shift
  if aws "${args[@]}" "$@" >"$dir/$file.json.tmp" 2>"$dir/$file.err"; then
    mv "$dir/$file.json.tmp" "$dir/$file.json"
    rm -f "$dir/$file.err"
  else
    echo "export-aws.sh: $* failed (skipped): $(tail -n 1 "$dir/$file.err")" >&2
    rm -f "$dir/$file.json.tmp"
    failed=$((failed + 1))
  fi
}
# ids FILE QUERY: the values QUERY (a Python expression over `d`, the JSON) lists.
ids() {
  [ -f "$dir/$1.json" ] || return 0
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("\n".join(sorted(set(eval(sys.argv[2])))))' "$dir/$1.json" "$2"
}

for op in vpcs subnets route-tables managed-prefix-lists security-groups network-acls network-interfaces \
          instances vpc-endpoints vpc-endpoint-service-configurations vpc-endpoint-connections \
          internet-gateways nat-gateways vpc-peering-connections vpn-gateways vpn-connections \
          customer-gateways transit-gateways transit-gateway-attachments \
          transit-gateway-vpc-attachments transit-gateway-peering-attachments \
          transit-gateway-route-tables; do
  call "ec2-describe-$op" ec2 "describe-$op"
done
# Each transit gateway route table's propagations and static routes.
for t in $(ids ec2-describe-transit-gateway-route-tables '[t["TransitGatewayRouteTableId"] for t in d["TransitGatewayRouteTables"]]'); do
  call "ec2-get-transit-gateway-route-table-propagations-$t" ec2 get-transit-gateway-route-table-propagations --transit-gateway-route-table-id "$t"
  call "ec2-search-transit-gateway-routes-$t" ec2 search-transit-gateway-routes --transit-gateway-route-table-id "$t" --filters Name=type,Values=static
done
# Direct Connect gateways, their associations (per gateway: the API wants one named) and the
# virtual interfaces attached to them.
call directconnect-describe-direct-connect-gateways directconnect describe-direct-connect-gateways
for g in $(ids directconnect-describe-direct-connect-gateways '[g["directConnectGatewayId"] for g in d["directConnectGateways"]]'); do
  call "directconnect-describe-direct-connect-gateway-associations-$g" directconnect describe-direct-connect-gateway-associations --direct-connect-gateway-id "$g"
done
call directconnect-describe-virtual-interfaces directconnect describe-virtual-interfaces
# Route 53 Resolver endpoints (with their addresses), rules and the rules' VPC associations;
# private hosted zones with their VPCs and records.
call route53resolver-list-resolver-endpoints route53resolver list-resolver-endpoints
for e in $(ids route53resolver-list-resolver-endpoints '[e["Id"] for e in d["ResolverEndpoints"]]'); do
  call "route53resolver-list-resolver-endpoint-ip-addresses-$e" route53resolver list-resolver-endpoint-ip-addresses --resolver-endpoint-id "$e"
done
call route53resolver-list-resolver-rules route53resolver list-resolver-rules
call route53resolver-list-resolver-rule-associations route53resolver list-resolver-rule-associations
call route53-list-hosted-zones route53 list-hosted-zones
for z in $(ids route53-list-hosted-zones '[z["Id"].split("/")[-1] for z in d["HostedZones"] if z.get("Config", {}).get("PrivateZone")]'); do
  call "route53-get-hosted-zone-$z" route53 get-hosted-zone --id "$z"
  call "route53-list-resource-record-sets-$z" route53 list-resource-record-sets --hosted-zone-id "$z"
done
# Entries of every prefix list the route tables or security groups use.
lists=$( { ids ec2-describe-route-tables '[r["DestinationPrefixListId"] for t in d["RouteTables"] for r in t.get("Routes", []) if r.get("DestinationPrefixListId")]'
           ids ec2-describe-security-groups '[p["PrefixListId"] for g in d["SecurityGroups"] for k in ("IpPermissions", "IpPermissionsEgress") for r in g.get(k, []) for p in r.get("PrefixListIds", [])]'
         } | sort -u)
for pl in $lists; do
  call "ec2-get-managed-prefix-list-entries-$pl" ec2 get-managed-prefix-list-entries --prefix-list-id "$pl"
done

# Who may connect to each endpoint service; S3 buckets and their policies (a bucket without a
# policy answers NoSuchBucketPolicy: skipped).
for svc in $(ids ec2-describe-vpc-endpoint-service-configurations '[s["ServiceId"] for s in d["ServiceConfigurations"]]'); do
  call "ec2-describe-vpc-endpoint-service-permissions-$svc" ec2 describe-vpc-endpoint-service-permissions --service-id "$svc"
done
call s3api-list-buckets s3api list-buckets
for b in $(ids s3api-list-buckets '[b["Name"] for b in d.get("Buckets", [])]'); do
  call "s3api-get-bucket-policy-$b" s3api get-bucket-policy --bucket "$b"
done

call elbv2-describe-load-balancers elbv2 describe-load-balancers
call elbv2-describe-target-groups elbv2 describe-target-groups
for arn in $(ids elbv2-describe-load-balancers '[l["LoadBalancerArn"] for l in d["LoadBalancers"]]'); do
  name=${arn##*:loadbalancer/}; name=${name//\//_}
  call "elbv2-describe-load-balancer-attributes-$name" elbv2 describe-load-balancer-attributes --load-balancer-arn "$arn"
  call "elbv2-describe-listeners-$name" elbv2 describe-listeners --load-balancer-arn "$arn"
done
for arn in $(ids elbv2-describe-target-groups '[t["TargetGroupArn"] for t in d["TargetGroups"]]'); do
  name=${arn##*:targetgroup/}; name=${name//\//_}
  call "elbv2-describe-target-group-attributes-$name" elbv2 describe-target-group-attributes --target-group-arn "$arn"
  call "elbv2-describe-target-health-$name" elbv2 describe-target-health --target-group-arn "$arn"
done

echo "export-aws.sh: $(ls "$dir"/*.json 2>/dev/null | wc -l) files in $dir ($failed calls skipped)"
