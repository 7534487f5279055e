using System.Text.RegularExpressions;

namespace Automations.Deploy.Tests;

/// <summary>
/// The .NET runtime settings the measurements chose (docs/performance.md, "Runtime settings") are environment variables
/// set in three places: `up.sh` for the local run, the image for Compose, the ConfigMaps for Kubernetes. A value changed
/// in one place and not the others would measure one system and ship another.
/// </summary>
public partial class Agreeing_on_runtime_settings
{
    // The heap's hard limit is left out: the image takes it as a build argument, and Ingestion's differs on purpose.
    private static readonly string[] Settings = ["DOTNET_gcServer", "DOTNET_ThreadPool_ForceMinWorkerThreads", "DOTNET_GCgen0size", "DOTNET_GCConserveMemory"];

    [GeneratedRegex("""^export (DOTNET_\w+)="\$\{\1:-([^}]*)\}"$""", RegexOptions.Multiline)]
    private static partial Regex UpDefault();

    [GeneratedRegex("""^\s*(DOTNET_\w+)=(\S+?)\s*\\?$""", RegexOptions.Multiline)]
    private static partial Regex ImageEnv();

    private static Dictionary<string, string> Matches(Regex regex, string text) =>
        regex.Matches(text).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);

    [Fact]
    public void Should_set_the_same_values_for_the_local_run_the_image_and_every_deployment()
    {
        var local = Matches(UpDefault(), File.ReadAllText(Path.Combine(Repo.Root, "deploy/local/up.sh")));
        var image = Matches(ImageEnv(), File.ReadAllText(Path.Combine(Repo.Root, "deploy/Dockerfile")));
        var docs = Repo.LoadAll(Repo.Kustomize("deploy/k8s/base"));
        var deployments = docs.Where(d => d.Str("kind") == "Deployment")
            .ToDictionary(d => d.Str("metadata", "name")!, d => Repo.Environment(docs, d));
        Assert.NotEmpty(deployments);

        foreach (var setting in Settings)
        {
            Assert.True(local.TryGetValue(setting, out var value), $"up.sh does not default {setting}");
            Assert.True(image.TryGetValue(setting, out var inImage), $"deploy/Dockerfile does not set {setting}");
            Assert.Equal(value, inImage);
            foreach (var (name, env) in deployments)
            {
                Assert.True(env.TryGetValue(setting, out var deployed), $"{name} does not set {setting}");
                Assert.Equal(value, deployed);
            }
        }
    }
}
