using System.Diagnostics;
using YamlDotNet.RepresentationModel;

namespace Automations.Deploy.Tests;

internal static class Repo
{
    public static string Root { get; } = FindRoot();

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Automations.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Automations.sln not found above " + AppContext.BaseDirectory);
    }

    public static IReadOnlyList<YamlMappingNode> LoadAll(string yaml)
    {
        var stream = new YamlStream();
        // Compose files use anchors and `<<:` merge keys; the merging parser resolves them as Docker does.
        stream.Load(new YamlDotNet.Core.MergingParser(new YamlDotNet.Core.Parser(new StringReader(yaml))));
        return stream.Documents.Select(d => d.RootNode).OfType<YamlMappingNode>().ToList();
    }

    /// <summary>`kubectl kustomize DIR` (kubectl ships on this kind of machine; on a laptop install kubectl).</summary>
    public static string Kustomize(string relativeDir)
    {
        var psi = new ProcessStartInfo("kubectl", ["kustomize", Path.Combine(Root, relativeDir)])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("kubectl could not be started");
        var output = p.StandardOutput.ReadToEnd();
        var error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"kubectl kustomize {relativeDir} failed: {error}");
        return output;
    }

    public static YamlNode? At(this YamlNode node, params string[] path)
    {
        var current = node;
        foreach (var key in path)
        {
            if (current is YamlMappingNode m && m.Children.TryGetValue(new YamlScalarNode(key), out var next)) current = next;
            else if (current is YamlSequenceNode s && int.TryParse(key, out var i) && i < s.Children.Count) current = s.Children[i];
            else return null;
        }
        return current;
    }

    public static string? Str(this YamlNode node, params string[] path) => (node.At(path) as YamlScalarNode)?.Value;

    /// <summary>The one rendered document of <paramref name="kind"/> named <paramref name="name"/>.</summary>
    public static YamlMappingNode Find(IEnumerable<YamlMappingNode> docs, string kind, string name) =>
        docs.SingleOrDefault(d => d.Str("kind") == kind && d.Str("metadata", "name") == name)
        ?? throw new Xunit.Sdk.XunitException($"no {kind} {name} in the rendered output");

    /// <summary>
    /// A Deployment's first container's environment as rendered: its ConfigMaps' data, then its own <c>env</c> over them
    /// (an entry taken from a Secret or a field has no value here, only its name).
    /// </summary>
    public static Dictionary<string, string?> Environment(IReadOnlyList<YamlMappingNode> docs, YamlMappingNode deployment)
    {
        var container = deployment.At("spec", "template", "spec", "containers", "0")!;
        var values = new Dictionary<string, string?>();
        if (container.At("envFrom") is YamlSequenceNode from)
            foreach (var source in from.Children)
                if (source.Str("configMapRef", "name") is { } name)
                    if (Find(docs, "ConfigMap", name).At("data") is YamlMappingNode data)
                        foreach (var (key, value) in data.Children) values[key.ToString()] = (value as YamlScalarNode)?.Value;
        if (container.At("env") is YamlSequenceNode env)
            foreach (var item in env.Children) values[item.Str("name")!] = item.Str("value");
        return values;
    }
}
