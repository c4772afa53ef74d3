using Orchestrator.Silo.Hosting;

SiloApp.Build(args).Run();
