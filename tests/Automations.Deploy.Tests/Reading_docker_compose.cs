using YamlDotNet.RepresentationModel;

namespace Automations.Deploy.Tests;

public class Reading_docker_compose
{
    private static readonly YamlMappingNode Compose = Repo.LoadAll(File.ReadAllText(Path.Combine(Repo.Root, "docker-compose.yml"))).Single();
    private static YamlMappingNode Services => (YamlMappingNode)Compose.At("services")!;

    public static TheoryData<string> AppServices => [.. ServiceConfiguration.Extra.Keys];

    [Fact]
    public void Should_have_the_infrastructure_the_system_needs()
    {
        Assert.Contains("management", Services.Str("rabbitmq", "image"), StringComparison.Ordinal);
        Assert.StartsWith("postgres:15", Services.Str("postgres", "image"), StringComparison.Ordinal);
        Assert.NotNull(Services.At("jaeger"));
        Assert.Equal("true", Services.Str("jaeger", "environment", "COLLECTOR_OTLP_ENABLED"));
        Assert.Equal("migrate", Services.Str("migrate", "command", "0"));
        foreach (var infra in new[] { "rabbitmq", "postgres" })
            Assert.NotNull(Services.At(infra, "healthcheck", "test"));
    }

    [Theory]
    [MemberData(nameof(AppServices))]
    public void Should_give_each_service_a_health_check_dependencies_and_its_configuration(string name)
    {
        var service = (YamlMappingNode)Services.At(name)!;
        Assert.Contains("/health/ready", string.Join(" ", ((YamlSequenceNode)service.At("healthcheck", "test")!).Children.Select(c => c.ToString())), StringComparison.Ordinal);
        Assert.Equal("service_healthy", service.Str("depends_on", "rabbitmq", "condition"));
        Assert.Equal("service_healthy", service.Str("depends_on", "postgres", "condition"));
        Assert.Equal("service_completed_successfully", service.Str("depends_on", "migrate", "condition"));
        Assert.Equal("deploy/Dockerfile", service.Str("build", "dockerfile"));
        var env = ((YamlMappingNode)service.At("environment")!).Children.Keys.Select(k => k.ToString()).ToList();
        foreach (var key in ServiceConfiguration.Required(name))
            Assert.True(env.Any(e => e.StartsWith(key, StringComparison.Ordinal)), $"{name} lacks {key} in docker-compose.yml");
        Assert.Contains("OTEL_EXPORTER_OTLP_ENDPOINT", env);
    }

    [Fact]
    public void Should_run_the_console_as_a_client_of_the_api_only()
    {
        var console = (YamlMappingNode)Services.At("console")!;
        Assert.Equal("deploy/Dockerfile", console.Str("build", "dockerfile"));
        Assert.Equal("Automations.Console", console.Str("build", "args", "SERVICE"));
        Assert.Equal("5085:8080", console.Str("ports", "0"));
        Assert.Contains("/health/ready", string.Join(" ", ((YamlSequenceNode)console.At("healthcheck", "test")!).Children.Select(c => c.ToString())), StringComparison.Ordinal);
        Assert.Equal("service_healthy", console.Str("depends_on", "api", "condition"));
        Assert.Equal("http://api:8080", console.Str("environment", "Console__ApiBaseUrl"));
        var env = ((YamlMappingNode)console.At("environment")!).Children.Keys.Select(k => k.ToString()).ToList();
        Assert.DoesNotContain(env, e => e.StartsWith("ConnectionStrings__", StringComparison.Ordinal) || e.StartsWith("Secrets__", StringComparison.Ordinal));
    }
}
