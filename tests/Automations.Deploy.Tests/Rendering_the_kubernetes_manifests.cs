using YamlDotNet.RepresentationModel;

namespace Automations.Deploy.Tests;

public class Rendering_the_kubernetes_manifests
{
    private static readonly IReadOnlyList<YamlMappingNode> Base = Repo.LoadAll(Repo.Kustomize("deploy/k8s/base"));
    private static readonly IReadOnlyList<YamlMappingNode> Operators = Repo.LoadAll(Repo.Kustomize("deploy/k8s/overlays/operators"));

    public static TheoryData<string> Services => [.. ServiceConfiguration.Extra.Keys];

    [Theory]
    [MemberData(nameof(Services))]
    public void Should_give_each_service_probes_resources_a_locked_down_pod_and_its_configuration(string name)
    {
        foreach (var docs in new[] { Base, Operators })
        {
            var deployment = Repo.Find(docs, "Deployment", name);
            var pod = deployment.At("spec", "template", "spec")!;
            var container = pod.At("containers", "0")!;
            Assert.Equal("/health/live", container.Str("livenessProbe", "httpGet", "path"));
            Assert.Equal("/health/ready", container.Str("readinessProbe", "httpGet", "path"));
            Assert.NotNull(container.Str("resources", "requests", "cpu"));
            Assert.NotNull(container.Str("resources", "requests", "memory"));
            Assert.NotNull(container.Str("resources", "limits", "memory"));
            Assert.Equal("true", pod.Str("securityContext", "runAsNonRoot"));
            Assert.Equal("true", container.Str("securityContext", "readOnlyRootFilesystem"));
            Assert.Equal("false", container.Str("securityContext", "allowPrivilegeEscalation"));
            var env = Repo.Environment(docs, deployment).Keys.ToList();
            foreach (var key in ServiceConfiguration.Required(name))
                Assert.True(env.Any(e => e.StartsWith(key, StringComparison.Ordinal)), $"{name} lacks {key}");
            Repo.Find(docs, "Service", name);
        }
    }

    [Fact]
    public void Should_migrate_once_with_a_job_and_scale_each_worker_with_an_autoscaler()
    {
        var job = Repo.Find(Base, "Job", "automations-migrate");
        Assert.Equal("migrate", job.Str("spec", "template", "spec", "containers", "0", "args", "0"));
        foreach (var worker in new[] { "ingestion", "rules", "webhook-sender", "launch-enqueuer" })
            Assert.Equal(worker, Repo.Find(Base, "HorizontalPodAutoscaler", worker).Str("spec", "scaleTargetRef", "name"));
        Assert.All(Base.Where(d => d.Str("kind") != "Namespace"), d => Assert.Equal("automations", d.Str("metadata", "namespace")));
    }

    [Fact]
    public void Should_use_the_operators_and_quorum_queues_in_the_operators_overlay()
    {
        Repo.Find(Operators, "RabbitmqCluster", "automations-rabbitmq");
        Repo.Find(Operators, "Cluster", "automations-pg");
        Assert.DoesNotContain(Operators, d => d.Str("kind") == "Secret" && d.Str("metadata", "name") == "automations-connections");
        foreach (var name in ServiceConfiguration.Extra.Keys)
        {
            Assert.Equal("true", Repo.Find(Operators, "ConfigMap", name).Str("data", "RabbitMq__QuorumQueues"));
            var env = (YamlSequenceNode)Repo.Find(Operators, "Deployment", name).At("spec", "template", "spec", "containers", "0", "env")!;
            var pg = env.Children.Single(e => e.Str("name") == "ConnectionStrings__Postgres");
            Assert.Contains("automations-pg-rw", pg.Str("value"), StringComparison.Ordinal);
            var names = env.Children.Select(e => e.Str("name")).ToList();
            Assert.True(names.IndexOf("PG_PASSWORD") < names.IndexOf("ConnectionStrings__Postgres"), "variables are defined before they are expanded");
        }
    }

    [Fact]
    public void Should_run_the_console_locked_down_as_a_client_of_the_api_only()
    {
        foreach (var docs in new[] { Base, Operators })
        {
            var deployment = Repo.Find(docs, "Deployment", "console");
            var pod = deployment.At("spec", "template", "spec")!;
            var container = pod.At("containers", "0")!;
            Assert.Equal("/health/live", container.Str("livenessProbe", "httpGet", "path"));
            Assert.Equal("/health/ready", container.Str("readinessProbe", "httpGet", "path"));
            Assert.NotNull(container.Str("resources", "requests", "cpu"));
            Assert.NotNull(container.Str("resources", "limits", "memory"));
            Assert.Equal("true", pod.Str("securityContext", "runAsNonRoot"));
            Assert.Equal("true", container.Str("securityContext", "readOnlyRootFilesystem"));
            Assert.Equal("false", container.Str("securityContext", "allowPrivilegeEscalation"));
            Assert.Equal("http://api", Repo.Find(docs, "ConfigMap", "console").Str("data", "Console__ApiBaseUrl"));
            Repo.Find(docs, "Service", "api");
            Repo.Find(docs, "Service", "console");
            var env = Repo.Environment(docs, deployment).Keys.ToList();
            Assert.DoesNotContain(env, e => e.StartsWith("ConnectionStrings__", StringComparison.Ordinal) || e.StartsWith("Secrets__", StringComparison.Ordinal)
                                           || e.StartsWith("PG_", StringComparison.Ordinal) || e.StartsWith("RMQ_", StringComparison.Ordinal));
        }
    }
}
